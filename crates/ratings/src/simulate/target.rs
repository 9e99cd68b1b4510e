//! The votes-to-target study: how many votes each pairing policy needs before the widest 95%
//! interval is below a target.

use super::arena::{SimulatedArena, validate_sampling};
use super::*;

/// Configuration of [`votes_to_target`]. The defaults stand for a mid-sized
/// arena: 50 models whose true ratings spread like the public arena's (SD
/// 120 Elo, as in [`synthetic_arena`]: about 540 Elo from top to bottom), 30%
/// ties, refits every 200 votes, stopping at a widest interval of 40 Elo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetConfig {
    pub models: usize,
    pub tie_rate: f64,
    /// Standard deviation of the true ratings (Elo points).
    pub strength_sd: f64,
    pub replicates: usize,
    pub seed: u64,
    /// Stop once the widest 95% sandwich interval (upper − lower, Elo points)
    /// is below this.
    pub target_width: f64,
    /// Give up after this many votes (the replicate counts as needing them).
    pub max_votes: u64,
    /// Votes between refits (and, for active sampling, between updates of the
    /// sampling probabilities).
    pub batch: u64,
}

impl Default for TargetConfig {
    fn default() -> Self {
        Self {
            models: 50,
            tie_rate: 0.3,
            strength_sd: 120.0,
            replicates: 20,
            seed: 1,
            target_width: 40.0,
            max_votes: 1_000_000,
            batch: 200,
        }
    }
}

/// Result of [`votes_to_target`] for one policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    pub sampling: Sampling,
    /// Votes each replicate needed (`max_votes` for one that never got there).
    pub votes_needed: Vec<u64>,
    /// Replicates that reached the target within `max_votes`.
    pub reached: usize,
    pub median_votes: f64,
    pub mean_votes: f64,
    pub min_votes: u64,
    pub max_votes: u64,
    /// Mean fraction of models whose true rating lies in its interval when
    /// the replicate stopped (over the replicates that reached the target).
    pub coverage_at_stop: f64,
}

/// Uniform and active sampling on the same replicates (same true strengths,
/// same random stream at the start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingComparison {
    pub config: TargetConfig,
    pub uniform: TargetReport,
    pub active: TargetReport,
    /// Median votes needed, active / uniform.
    pub median_ratio: f64,
    /// Mean votes needed, active / uniform.
    pub mean_ratio: f64,
    /// Median over replicates of each replicate's active / uniform ratio.
    pub paired_median_ratio: f64,
}

impl SamplingComparison {
    /// How many fewer votes active sampling needs, in percent (median).
    pub fn fewer_votes_percent(&self) -> f64 {
        100.0 * (1.0 - self.median_ratio)
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// How many votes each replicate needs, under `sampling`, until the widest
/// 95% interval of the leaderboard is below `config.target_width`. Replicate
/// `r` draws its true strengths (normal, SD `strength_sd`) from the stream
/// `(seed, r)` and its votes from the same stream, in batches of
/// `config.batch`, refitting (exact MLE, sandwich intervals) after each.
/// Parallel over replicates; deterministic.
pub fn votes_to_target(
    config: &TargetConfig,
    sampling: &Sampling,
) -> Result<TargetReport, RatingError> {
    if config.models < 2 || config.replicates == 0 || config.max_votes == 0 {
        return Err(RatingError::InvalidOption(
            "the study needs ≥ 2 models, ≥ 1 replicate and a vote cap ≥ 1".into(),
        ));
    }
    if !(0.0..=1.0).contains(&config.tie_rate) {
        return Err(RatingError::InvalidOption(
            "tie_rate must be in [0, 1]".into(),
        ));
    }
    if !(config.target_width > 0.0 && config.target_width.is_finite()) {
        return Err(RatingError::InvalidOption(format!(
            "target width must be a finite number of Elo points > 0, got {}",
            config.target_width
        )));
    }
    if !(config.strength_sd >= 0.0 && config.strength_sd.is_finite()) {
        return Err(RatingError::InvalidOption(
            "strength_sd must be a finite number ≥ 0".into(),
        ));
    }
    validate_sampling(sampling, config.batch)?;
    let normal = Normal::new(0.0, config.strength_sd / ELO_PER_NATURAL_UNIT)
        .map_err(|e| RatingError::InvalidOption(e.to_string()))?;
    let runs: Vec<(u64, Option<f64>)> = (0..config.replicates as u64)
        .into_par_iter()
        .map(|r| {
            let mut rng: ChaCha8Rng = round_rng(config.seed, r);
            let theta: Vec<f64> = (0..config.models)
                .map(|_| normal.sample(&mut rng))
                .collect();
            let mut arena = SimulatedArena::new(&theta, config.tie_rate);
            let reached = arena.run(
                sampling,
                config.batch,
                config.max_votes,
                Some(config.target_width),
                &mut rng,
            );
            let coverage = match (&arena.board, reached) {
                (Some(board), true) => Some(coverage_of(board, &theta)),
                _ => None,
            };
            (arena.votes, coverage)
        })
        .collect();
    let votes_needed: Vec<u64> = runs.iter().map(|r| r.0).collect();
    let coverages: Vec<f64> = runs.iter().filter_map(|r| r.1).collect();
    let as_f64: Vec<f64> = votes_needed.iter().map(|&v| v as f64).collect();
    Ok(TargetReport {
        sampling: sampling.clone(),
        reached: coverages.len(),
        median_votes: median(&as_f64),
        mean_votes: as_f64.iter().sum::<f64>() / as_f64.len() as f64,
        min_votes: votes_needed.iter().copied().min().unwrap_or(0),
        max_votes: votes_needed.iter().copied().max().unwrap_or(0),
        coverage_at_stop: if coverages.is_empty() {
            f64::NAN
        } else {
            coverages.iter().sum::<f64>() / coverages.len() as f64
        },
        votes_needed,
    })
}

/// [`votes_to_target`] under uniform sampling and under `active`, on the
/// same replicates.
pub fn compare_sampling(
    config: &TargetConfig,
    active: &ActiveOptions,
) -> Result<SamplingComparison, RatingError> {
    active.validate()?;
    let uniform = votes_to_target(config, &Sampling::Uniform)?;
    let active = votes_to_target(config, &Sampling::Active(active.clone()))?;
    let paired: Vec<f64> = uniform
        .votes_needed
        .iter()
        .zip(&active.votes_needed)
        .map(|(&u, &a)| a as f64 / u as f64)
        .collect();
    Ok(SamplingComparison {
        config: config.clone(),
        median_ratio: active.median_votes / uniform.median_votes,
        mean_ratio: active.mean_votes / uniform.mean_votes,
        paired_median_ratio: median(&paired),
        uniform,
        active,
    })
}
