//! `arena-ratings`: the rating engine on files. `fit` (pair counts or battles
//! to a leaderboard), `elo` (online Elo over battles), `simulate` (coverage
//! study on synthetic data; with `--target-width`, votes needed under uniform
//! and active pair sampling) and `bench` (timings on an arena-sized case
//! against the MM baseline). Exit codes: 0 ok, 1 the fit failed, 2 bad input.

mod bench;
mod input;
mod rigging;
mod simulate;

use bench::bench;
use rigging::RigStrategy;
use simulate::{describe_active, simulate_target};

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use arena_ratings::active::{ActiveOptions, Criterion};
use arena_ratings::baseline::mm_fit;
use arena_ratings::simulate::{
    Sampling, SimulationConfig, TargetConfig, compare_sampling, simulate, synthetic_arena,
    votes_to_target,
};
use arena_ratings::{
    CiMethod, ELO_PER_NATURAL_UNIT, EloOptions, FitOptions, Leaderboard, TieModel, fit, online_elo,
};
use clap::{Parser, Subcommand, ValueEnum};
use input::InputError;

#[derive(Parser)]
#[command(name = "arena-ratings", version, about = "Arena leaderboard ratings")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Ties {
    Half,
    Davidson,
}

#[derive(Clone, Copy, ValueEnum)]
enum Ci {
    None,
    Sandwich,
    Bootstrap,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SamplingPolicy {
    Uniform,
    Active,
}

#[derive(Clone, Copy, ValueEnum)]
enum ActiveCriterion {
    WidestInterval,
    TotalVariance,
    ChatbotArena,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Fit the Bradley–Terry leaderboard.
    Fit {
        /// CSV with header model_a,model_b,wins_a,wins_b,ties,both_bad.
        #[arg(long, conflicts_with = "battles", required_unless_present = "battles")]
        counts: Option<PathBuf>,
        /// JSON lines with model_a, model_b, winner.
        #[arg(long)]
        battles: Option<PathBuf>,
        /// Pin a model's rating, e.g. mixtral-8x7b-instruct-v0.1=1114.
        #[arg(long, value_parser = parse_anchor)]
        anchor: Option<(String, f64)>,
        #[arg(long, value_enum, default_value = "half")]
        ties: Ties,
        #[arg(long, value_enum, default_value = "sandwich")]
        ci: Ci,
        #[arg(long, default_value_t = 1000)]
        bootstrap_rounds: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Ridge penalty (natural units) for disconnected or separated data.
        #[arg(long, default_value_t = 0.0)]
        ridge: f64,
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
    },
    /// Online Elo (K = 4, chronological) over battles.
    Elo {
        #[arg(long)]
        battles: PathBuf,
        #[arg(long, default_value_t = 4.0)]
        k: f64,
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
    },
    /// Coverage and rank-correlation study on votes drawn from known
    /// strengths; with --target-width, the votes each pairing policy needs
    /// until the widest 95% interval is that narrow.
    Simulate {
        /// Models [default: 20; 50 with --target-width].
        #[arg(long)]
        models: Option<usize>,
        /// Votes per replicate [default: 10000]; with --target-width, the cap
        /// per replicate [default: 1000000].
        #[arg(long)]
        votes: Option<u64>,
        #[arg(long, default_value_t = 0.3)]
        tie_rate: f64,
        /// Standard deviation of the true ratings, Elo points [default: 100;
        /// 120 with --target-width, the spread of the arena-sized case].
        #[arg(long)]
        strength_sd: Option<f64>,
        /// Replicates [default: 200; 20 with --target-width].
        #[arg(long)]
        replicates: Option<usize>,
        #[arg(long, default_value_t = 200)]
        bootstrap_rounds: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How battles pick their pair: uniform, or active (probabilities from
        /// the current fit, refreshed after every batch). With --target-width
        /// and no --sampling, both policies run and are compared.
        #[arg(long, value_enum)]
        sampling: Option<SamplingPolicy>,
        /// Active sampling's score of a pair.
        #[arg(long, value_enum, default_value = "widest-interval")]
        criterion: ActiveCriterion,
        /// Share of active sampling's probability spread uniformly over pairs.
        #[arg(long, default_value_t = 0.1)]
        floor: f64,
        /// Votes between refits.
        #[arg(long, default_value_t = 200)]
        batch: u64,
        /// Target mode: stop each replicate once the widest 95% interval
        /// (upper − lower, Elo points) is below this, and report the votes
        /// it took.
        #[arg(long)]
        target_width: Option<f64>,
        /// With --target-width: run uniform and active sampling on the same
        /// replicates and print the ratio (the default when --sampling is
        /// not given).
        #[arg(long, requires = "target_width", conflicts_with = "sampling")]
        compare: bool,
        /// Print the report as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Rigging mode: this many riggers join honest traffic; the report compares the
        /// target's rank and rating shift, and who is flagged, with and without the defences.
        #[arg(long, conflicts_with = "target_width")]
        riggers: Option<usize>,
        /// Rigging mode: votes per rigger.
        #[arg(long, default_value_t = 100, requires = "riggers")]
        rig_votes: u64,
        /// Rigging mode: vote for the target, against it, or at random.
        #[arg(long, value_enum, default_value = "target", requires = "riggers")]
        strategy: RigStrategy,
        /// Rigging mode: probability that a rigger recognises the target's side.
        #[arg(long, default_value_t = 0.9, requires = "riggers")]
        recognition: f64,
        /// Rigging mode: honest voters.
        #[arg(long, default_value_t = 2000, requires = "riggers")]
        honest_voters: usize,
        /// Rigging mode: the sequential test's false-positive rate per honest voter.
        #[arg(long, default_value_t = 0.001, requires = "riggers")]
        alpha: f64,
        /// Rigging mode: counted votes per voter per model pair per day.
        #[arg(long, default_value_t = 20, requires = "riggers")]
        cap_per_pair: u64,
        /// Rigging mode: how honest voters tie (--tie-rate is an even pair's tie
        /// probability under each); the detector always fits the half-win model.
        #[arg(long, value_enum, default_value = "half", requires = "riggers")]
        honest_ties: rigging::HonestTieModel,
    },
    /// Time the fit and the bootstrap on an arena-sized synthetic case
    /// (129 models, 3,460 pairs, 1.67M votes) against the MM baseline.
    Bench {
        #[arg(long, default_value_t = 1000)]
        bootstrap_rounds: usize,
        #[arg(long, default_value_t = 20)]
        repeats: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn parse_anchor(s: &str) -> Result<(String, f64), String> {
    let (model, value) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("expected MODEL=VALUE, got {s:?}"))?;
    let rating: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("anchor value {value:?} is not a number"))?;
    if model.trim().is_empty() || !rating.is_finite() {
        return Err(format!("expected MODEL=VALUE, got {s:?}"));
    }
    Ok((model.trim().to_owned(), rating))
}

enum Failure {
    Input(String),
    Fit(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Fit(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}

fn open(path: &Path) -> Result<BufReader<std::fs::File>, Failure> {
    std::fs::File::open(path)
        .map(BufReader::new)
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}

fn in_file(path: &Path) -> impl Fn(InputError) -> Failure + '_ {
    move |e| Failure::Input(format!("{}: {e}", path.display()))
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Fit {
            counts,
            battles,
            anchor,
            ties,
            ci,
            bootstrap_rounds,
            seed,
            ridge,
            format,
        } => {
            let comparisons = match (counts, battles) {
                (Some(path), _) => input::read_counts(open(&path)?).map_err(in_file(&path))?,
                (None, Some(path)) => input::battles_to_comparisons(
                    &input::read_battles(open(&path)?).map_err(in_file(&path))?,
                ),
                (None, None) => return Err(Failure::Input("give --counts or --battles".into())),
            };
            let options = FitOptions {
                ties: match ties {
                    Ties::Half => TieModel::Half,
                    Ties::Davidson => TieModel::Davidson,
                },
                anchor,
                ridge,
                ci: match ci {
                    Ci::None => CiMethod::None,
                    Ci::Sandwich => CiMethod::Sandwich,
                    Ci::Bootstrap => CiMethod::Bootstrap {
                        rounds: bootstrap_rounds,
                        seed,
                    },
                },
                ..FitOptions::default()
            };
            let board = fit(&comparisons, &options).map_err(|e| match e {
                arena_ratings::RatingError::InvalidOption(_)
                | arena_ratings::RatingError::UnknownAnchor { .. } => Failure::Input(e.to_string()),
                other => Failure::Fit(other.to_string()),
            })?;
            report_diagnostics(&board);
            write_leaderboard(&board, format).map_err(|e| Failure::Fit(e.to_string()))
        }
        Command::Elo { battles, k, format } => {
            let list = input::read_battles(open(&battles)?).map_err(in_file(&battles))?;
            let ratings = online_elo(
                &list,
                &EloOptions {
                    k,
                    ..EloOptions::default()
                },
            )
            .map_err(|e| Failure::Input(e.to_string()))?;
            let out = std::io::stdout();
            let mut out = out.lock();
            let result = match format {
                Format::Json => serde_json::to_writer_pretty(&mut out, &ratings)
                    .map_err(|e| e.to_string())
                    .and_then(|()| writeln!(out).map_err(|e| e.to_string())),
                Format::Csv => (|| {
                    writeln!(out, "model,rating,battles")?;
                    for r in &ratings {
                        writeln!(out, "{},{:.4},{}", csv_field(&r.model), r.rating, r.battles)?;
                    }
                    Ok::<(), std::io::Error>(())
                })()
                .map_err(|e| e.to_string()),
            };
            result.map_err(Failure::Fit)
        }
        Command::Simulate {
            models,
            votes,
            tie_rate,
            strength_sd,
            replicates,
            bootstrap_rounds,
            seed,
            sampling,
            criterion,
            floor,
            batch,
            target_width,
            compare,
            json,
            riggers,
            rig_votes,
            strategy,
            recognition,
            honest_voters,
            alpha,
            cap_per_pair,
            honest_ties,
        } => {
            if let Some(riggers) = riggers {
                let defaults = arena_ratings::rigging::sim::RiggingConfig::default();
                let config = arena_ratings::rigging::sim::RiggingConfig {
                    models: models.unwrap_or(defaults.models),
                    strength_sd: strength_sd.unwrap_or(defaults.strength_sd),
                    tie_rate,
                    honest_voters,
                    riggers,
                    rig_votes,
                    strategy: strategy.into(),
                    recognition,
                    alpha,
                    cap_per_pair,
                    honest_ties: honest_ties.into(),
                    replicates: replicates.unwrap_or(defaults.replicates),
                    seed,
                    ..defaults
                };
                return rigging::simulate(&config, json);
            }
            let active = ActiveOptions {
                criterion: match criterion {
                    ActiveCriterion::WidestInterval => Criterion::WidestInterval,
                    ActiveCriterion::TotalVariance => Criterion::TotalVariance,
                    ActiveCriterion::ChatbotArena => Criterion::ChatbotArena,
                },
                floor,
                ..ActiveOptions::default()
            };
            let policy = |p: SamplingPolicy| match p {
                SamplingPolicy::Uniform => Sampling::Uniform,
                SamplingPolicy::Active => Sampling::Active(active.clone()),
            };
            if let Some(target_width) = target_width {
                let defaults = TargetConfig::default();
                let config = TargetConfig {
                    models: models.unwrap_or(defaults.models),
                    tie_rate,
                    strength_sd: strength_sd.unwrap_or(defaults.strength_sd),
                    replicates: replicates.unwrap_or(defaults.replicates),
                    seed,
                    target_width,
                    max_votes: votes.unwrap_or(defaults.max_votes),
                    batch,
                };
                let only = sampling.filter(|_| !compare).map(policy);
                return simulate_target(&config, only, &active, json);
            }
            let defaults = SimulationConfig::default();
            let config = SimulationConfig {
                models: models.unwrap_or(defaults.models),
                votes: votes.unwrap_or(defaults.votes),
                tie_rate,
                strength_sd: strength_sd.unwrap_or(defaults.strength_sd),
                replicates: replicates.unwrap_or(defaults.replicates),
                bootstrap_rounds,
                seed,
                sampling: policy(sampling.unwrap_or(SamplingPolicy::Uniform)),
                batch,
            };
            let start = Instant::now();
            let report = simulate(&config).map_err(|e| Failure::Input(e.to_string()))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report)
                        .map_err(|e| Failure::Fit(e.to_string()))?
                );
            } else {
                println!(
                    "simulation: {} models, {} votes/replicate, tie rate {}, true-rating SD {} Elo, {} replicates ({} failed), {} bootstrap rounds, {:.1} s",
                    config.models,
                    config.votes,
                    tie_rate,
                    config.strength_sd,
                    report.replicates_used,
                    report.replicates_failed,
                    bootstrap_rounds,
                    start.elapsed().as_secs_f64()
                );
                if let Sampling::Active(a) = &config.sampling {
                    println!(
                        "sampling: {}, refit every {batch} votes",
                        describe_active(a)
                    );
                }
                println!(
                    "rank correlation with truth: Spearman {:.4}, Kendall {:.4}; RMSE {:.2} Elo",
                    report.spearman, report.kendall, report.rmse
                );
                println!("interval   coverage (goal 0.94-0.96)   ±MC s.e.   mean width (Elo)");
                for (name, c) in [
                    ("sandwich", &report.sandwich),
                    ("bootstrap", &report.bootstrap),
                ] {
                    println!(
                        "{name:<10} {:<27.4} {:<10.4} {:.2}",
                        c.coverage, c.coverage_se, c.mean_width
                    );
                }
            }
            Ok(())
        }
        Command::Bench {
            bootstrap_rounds,
            repeats,
            seed,
        } => {
            bench(bootstrap_rounds, repeats.max(1), seed);
            Ok(())
        }
    }
}

fn report_diagnostics(board: &Leaderboard) {
    let d = &board.diagnostics;
    eprintln!(
        "fit: {} rated models, {} votes, {} Newton iterations, gradient norm {:.2e}{}{}",
        d.rated_models,
        d.total_votes,
        d.iterations,
        d.gradient_norm,
        d.tie_parameter
            .map(|nu| format!(", Davidson ν = {nu:.4}"))
            .unwrap_or_default(),
        if d.bootstrap_failed_rounds > 0 {
            format!(", {} bootstrap rounds skipped", d.bootstrap_failed_rounds)
        } else {
            String::new()
        }
    );
    for w in &d.warnings {
        eprintln!("warning: {w}");
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn write_leaderboard(board: &Leaderboard, format: Format) -> std::io::Result<()> {
    let out = std::io::stdout();
    let mut out = out.lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &board.rows)?;
            writeln!(out)
        }
        Format::Csv => {
            writeln!(out, "model,rating,ci_lower,ci_upper,rank,votes")?;
            let num = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
            for r in &board.rows {
                writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    csv_field(&r.model),
                    num(r.rating),
                    num(r.ci_lower),
                    num(r.ci_upper),
                    r.rank.map(|k| k.to_string()).unwrap_or_default(),
                    r.votes
                )?;
            }
            Ok(())
        }
    }
}
