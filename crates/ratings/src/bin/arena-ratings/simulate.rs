//! `simulate --target-width`: votes to a target interval width under each pairing policy.

use super::*;

pub(super) fn describe_active(a: &ActiveOptions) -> String {
    let criterion = match a.criterion {
        Criterion::WidestInterval => "widest-interval",
        Criterion::TotalVariance => "total-variance",
        Criterion::ChatbotArena => "chatbot-arena",
    };
    format!(
        "active (criterion {criterion}, uniform floor {}, prior precision {})",
        a.floor, a.prior_precision
    )
}

/// Target mode of `simulate`: one policy, or both compared.
pub(super) fn simulate_target(
    config: &TargetConfig,
    only: Option<Sampling>,
    active: &ActiveOptions,
    json: bool,
) -> Result<(), Failure> {
    let start = Instant::now();
    let input = |e: arena_ratings::RatingError| Failure::Input(e.to_string());
    let (reports, comparison) = match only {
        Some(sampling) => (
            vec![votes_to_target(config, &sampling).map_err(input)?],
            None,
        ),
        None => {
            let c = compare_sampling(config, active).map_err(input)?;
            (vec![c.uniform.clone(), c.active.clone()], Some(c))
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    if json {
        let value = match &comparison {
            Some(c) => serde_json::to_value(c),
            None => serde_json::to_value(serde_json::json!({
                "config": config,
                "report": reports[0],
            })),
        }
        .map_err(|e| Failure::Fit(e.to_string()))?;
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| Failure::Fit(e.to_string()))?
        );
        return Ok(());
    }
    println!(
        "votes until the widest 95% interval is below {} Elo: {} models, true-rating SD {} Elo, tie rate {}, refit (sandwich intervals) every {} votes, cap {} votes, {} replicates, {:.1} s",
        config.target_width,
        config.models,
        config.strength_sd,
        config.tie_rate,
        config.batch,
        config.max_votes,
        config.replicates,
        seconds
    );
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>17}",
        "policy", "median", "mean", "min", "max", "reached", "coverage at stop"
    );
    for r in &reports {
        let name = match r.sampling {
            Sampling::Uniform => "uniform",
            Sampling::Active(_) => "active",
        };
        println!(
            "{name:<10} {:>10.0} {:>10.0} {:>10} {:>10} {:>9} {:>17.3}",
            r.median_votes,
            r.mean_votes,
            r.min_votes,
            r.max_votes,
            format!("{}/{}", r.reached, r.votes_needed.len()),
            r.coverage_at_stop
        );
    }
    if reports
        .iter()
        .any(|r| matches!(r.sampling, Sampling::Active(_)))
    {
        println!("active: {}", describe_active(active));
    }
    if let Some(c) = comparison {
        println!(
            "active / uniform: {:.3} (medians), {:.3} (means), {:.3} (median of per-replicate ratios)",
            c.median_ratio, c.mean_ratio, c.paired_median_ratio
        );
        let fewer = c.fewer_votes_percent();
        println!(
            "active needs {:.1}% {} votes than uniform (median)",
            fewer.abs(),
            if fewer >= 0.0 { "fewer" } else { "more" }
        );
    }
    Ok(())
}
