//! `simulate --riggers R --rig-votes V --strategy S`: the rigging study as a table (or JSON).

use super::Failure;
use arena_ratings::rigging::sim::{HonestTies, RiggingConfig, Strategy, simulate_rigging};
use clap::ValueEnum;
use std::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum RigStrategy {
    Target,
    AntiTarget,
    Random,
}

impl From<RigStrategy> for Strategy {
    fn from(s: RigStrategy) -> Self {
        match s {
            RigStrategy::Target => Strategy::Target,
            RigStrategy::AntiTarget => Strategy::AntiTarget,
            RigStrategy::Random => Strategy::Random,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum HonestTieModel {
    Half,
    Davidson,
    Constant,
}

impl From<HonestTieModel> for HonestTies {
    fn from(t: HonestTieModel) -> Self {
        match t {
            HonestTieModel::Half => HonestTies::Half,
            HonestTieModel::Davidson => HonestTies::Davidson,
            HonestTieModel::Constant => HonestTies::Constant,
        }
    }
}

pub(super) fn simulate(config: &RiggingConfig, json: bool) -> Result<(), Failure> {
    let start = Instant::now();
    let report = simulate_rigging(config).map_err(|e| Failure::Input(e.to_string()))?;
    if json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| Failure::Fit(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    let pct = |x: f64| format!("{:.1} %", 100.0 * x);
    println!(
        "rigging: {} riggers × {} votes ({:?}, recognition {}) among {} honest voters, {} models \
         (true-rating SD {} Elo, honest ties {:?} at rate {}), sequential test α = {}, cap {} votes per pair, \
         {} replicates, {:.1} s",
        config.riggers,
        config.rig_votes,
        config.strategy,
        config.recognition,
        config.honest_voters,
        config.models,
        config.strength_sd,
        config.honest_ties,
        config.tie_rate,
        config.alpha,
        config.cap_per_pair,
        config.replicates,
        start.elapsed().as_secs_f64()
    );
    println!();
    println!("| | honest votes only | undefended | defended |");
    println!("|---|---|---|---|");
    println!(
        "| target's mean rank | {:.2} | {:.2} | {:.2} |",
        report.mean_rank_honest, report.mean_rank_undefended, report.mean_rank_defended
    );
    println!(
        "| target's rating shift (Elo) | 0 | {:+.1} | {:+.1} |",
        report.shift_undefended, report.shift_defended
    );
    println!();
    println!("| goal | measured | target |");
    println!("|---|---|---|");
    println!(
        "| riggers with ≥ 100 votes flagged | {} | ≥ 80 % |",
        if config.rig_votes >= 100 {
            pct(report.riggers_flagged)
        } else {
            "— (fewer than 100 votes each)".to_owned()
        }
    );
    println!(
        "| all riggers flagged | {} | |",
        pct(report.riggers_flagged_all)
    );
    println!(
        "| honest voters flagged | {:.3} % | ≤ 1 % |",
        100.0 * report.honest_flagged
    );
    println!(
        "| honest voters with ≥ 100 votes flagged | {} | |",
        pct(report.heavy_honest_flagged)
    );
    println!(
        "| target's rating shift removed by the defences | {} | ≥ 80 % |",
        pct(report.shift_cut)
    );
    Ok(())
}
