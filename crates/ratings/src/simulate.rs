//! Synthetic data with known strengths: the simulation study (rank
//! correlation with the truth, coverage of the 95% intervals), the
//! votes-to-target study of the pairing policies (uniform against active
//! sampling) and the arena-sized benchmark case.
//!
//! Votes are drawn so that the expected score of `a` against `b` is exactly
//! σ(θa − θb), the quantity the half-win model estimates: a tie happens with
//! probability `tie_rate · 4σ(1−σ)` (most likely between close models) and
//! takes half of its mass from each side's win probability.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, LogNormal, Normal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::active::{ActiveOptions, pair_count, pair_index, pair_probabilities};
use crate::bootstrap::round_rng;
use crate::fit::{BASE_RATING, ELO_PER_NATURAL_UNIT, fit};
use crate::{CiMethod, Comparisons, FitOptions, Leaderboard, PairCounts, RatingError};

mod arena;
mod target;
use arena::{SimulatedArena, uniform_pair, validate_sampling};
pub use target::*;

/// Outcome counts of `votes` battles between strengths `theta_a`, `theta_b`.
pub fn draw_pair_outcomes(
    votes: u64,
    theta_a: f64,
    theta_b: f64,
    tie_rate: f64,
    rng: &mut impl Rng,
) -> PairCounts {
    let s = 1.0 / (1.0 + (theta_b - theta_a).exp());
    let p_tie = (tie_rate * 4.0 * s * (1.0 - s)).clamp(0.0, 1.0);
    let p_win_a = s - 0.5 * p_tie;
    let binomial = |n: u64, p: f64, rng: &mut dyn rand::RngCore| -> u64 {
        if n == 0 || p <= 0.0 {
            0
        } else if p >= 1.0 {
            n
        } else {
            Binomial::new(n, p).map(|b| b.sample(rng)).unwrap_or(0)
        }
    };
    let ties = binomial(votes, p_tie, rng);
    let decisive = votes - ties;
    let wins_a = binomial(
        decisive,
        p_win_a / (1.0 - p_tie).max(f64::MIN_POSITIVE),
        rng,
    );
    PairCounts::new(wins_a, decisive - wins_a, ties, 0)
}

/// Model name of index `m` in synthetic data.
pub fn model_name(m: usize) -> String {
    format!("model-{m:03}")
}

/// A synthetic case the size of the public arena: 129 models, 3,460 compared
/// pairs (a random spanning path plus random pairs), 1.67M votes spread
/// unevenly (log-normal weights), strengths with an SD of 120 Elo, 30% ties.
/// Returns the comparisons and the true log-strengths.
pub fn synthetic_arena(seed: u64) -> (Comparisons, Vec<f64>) {
    synthetic_case(129, 3_460, 1_670_000, 0.3, seed)
}

/// Like [`synthetic_arena`] with other sizes.
pub fn synthetic_case(
    models: usize,
    pairs: usize,
    votes: u64,
    tie_rate: f64,
    seed: u64,
) -> (Comparisons, Vec<f64>) {
    let mut rng = round_rng(seed, u64::MAX);
    let normal = Normal::new(0.0, 120.0 / ELO_PER_NATURAL_UNIT).expect("valid normal");
    let theta: Vec<f64> = (0..models).map(|_| normal.sample(&mut rng)).collect();
    let max_pairs = models * (models - 1) / 2;
    let pairs = pairs.clamp(models.saturating_sub(1), max_pairs);
    let mut chosen = std::collections::BTreeSet::new();
    let mut order: Vec<usize> = (0..models).collect();
    for k in (1..models).rev() {
        order.swap(k, rng.random_range(0..=k));
    }
    for w in order.windows(2) {
        chosen.insert((w[0].min(w[1]), w[0].max(w[1])));
    }
    while chosen.len() < pairs {
        let a = rng.random_range(0..models);
        let b = rng.random_range(0..models);
        if a != b {
            chosen.insert((a.min(b), a.max(b)));
        }
    }
    let lognormal = LogNormal::new(0.0, 1.0).expect("valid lognormal");
    let weights: Vec<f64> = chosen.iter().map(|_| lognormal.sample(&mut rng)).collect();
    let total_weight: f64 = weights.iter().sum();
    let mut c = Comparisons::new();
    for m in 0..models {
        c.register(&model_name(m));
    }
    // At least one vote per pair; the rounding remainder goes to the busiest pair.
    let mut alloc: Vec<u64> = weights
        .iter()
        .map(|w| ((votes as f64 * w / total_weight).floor() as u64).max(1))
        .collect();
    let busiest = (0..alloc.len()).max_by_key(|&k| alloc[k]).unwrap_or(0);
    let sum: u64 = alloc.iter().sum();
    if sum <= votes {
        alloc[busiest] += votes - sum;
    } else {
        alloc[busiest] = alloc[busiest].saturating_sub(sum - votes).max(1);
    }
    for (&(a, b), &n) in chosen.iter().zip(&alloc) {
        let counts = draw_pair_outcomes(n, theta[a], theta[b], tie_rate, &mut rng);
        c.add(&model_name(a), &model_name(b), counts)
            .expect("distinct models");
    }
    (c, theta)
}

/// How a simulated arena picks the pair of each battle.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "policy")]
pub enum Sampling {
    /// Every unordered pair equally likely.
    #[default]
    Uniform,
    /// [`pair_probabilities`] from the current fit, recomputed after every
    /// batch of votes.
    Active(ActiveOptions),
}

/// Configuration of [`simulate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimulationConfig {
    pub models: usize,
    /// Votes per replicate.
    pub votes: u64,
    pub tie_rate: f64,
    /// Standard deviation of the true ratings (Elo points).
    pub strength_sd: f64,
    pub replicates: usize,
    pub bootstrap_rounds: usize,
    pub seed: u64,
    /// How the pairs are drawn (uniform: the votes are drawn at once).
    pub sampling: Sampling,
    /// Votes between refits under active sampling.
    pub batch: u64,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self {
            models: 20,
            votes: 10_000,
            tie_rate: 0.3,
            strength_sd: 100.0,
            replicates: 200,
            bootstrap_rounds: 200,
            seed: 1,
            sampling: Sampling::Uniform,
            batch: 200,
        }
    }
}

/// Coverage of one interval method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageSummary {
    /// Mean over replicates of the fraction of models whose true (centred)
    /// rating lies in their interval.
    pub coverage: f64,
    /// Monte-Carlo standard error of `coverage`.
    pub coverage_se: f64,
    /// Mean interval width (Elo points).
    pub mean_width: f64,
}

/// Result of [`simulate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationReport {
    pub config: SimulationConfig,
    pub replicates_used: usize,
    pub replicates_failed: usize,
    pub spearman: f64,
    pub kendall: f64,
    /// Root mean squared error of the ratings (Elo points).
    pub rmse: f64,
    pub sandwich: CoverageSummary,
    pub bootstrap: CoverageSummary,
}

struct Replicate {
    spearman: f64,
    kendall: f64,
    mse: f64,
    sandwich: (f64, f64),
    bootstrap: (f64, f64),
}

/// Draws `replicates` data sets from known strengths, fits each with sandwich
/// and bootstrap intervals, and compares with the truth in the same gauge
/// (mean rating 1000 for both). Parallel over replicates; deterministic.
pub fn simulate(config: &SimulationConfig) -> Result<SimulationReport, RatingError> {
    if config.models < 2 || config.replicates == 0 || config.bootstrap_rounds < 2 {
        return Err(RatingError::InvalidOption(
            "simulation needs ≥ 2 models, ≥ 1 replicate and ≥ 2 bootstrap rounds".into(),
        ));
    }
    if !(0.0..=1.0).contains(&config.tie_rate) {
        return Err(RatingError::InvalidOption(
            "tie_rate must be in [0, 1]".into(),
        ));
    }
    validate_sampling(&config.sampling, config.batch)?;
    let results: Vec<Option<Replicate>> = (0..config.replicates as u64)
        .into_par_iter()
        .map(|r| replicate(config, r))
        .collect();
    let ok: Vec<&Replicate> = results.iter().flatten().collect();
    if ok.is_empty() {
        return Err(RatingError::InvalidOption(
            "every replicate failed (too few votes for a finite MLE)".into(),
        ));
    }
    let n = ok.len() as f64;
    let mean = |f: &dyn Fn(&Replicate) -> f64| ok.iter().map(|r| f(r)).sum::<f64>() / n;
    let summary = |f: &dyn Fn(&Replicate) -> (f64, f64)| {
        let c = mean(&|r| f(r).0);
        let var = ok.iter().map(|r| (f(r).0 - c).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        CoverageSummary {
            coverage: c,
            coverage_se: (var / n).sqrt(),
            mean_width: mean(&|r| f(r).1),
        }
    };
    Ok(SimulationReport {
        config: config.clone(),
        replicates_used: ok.len(),
        replicates_failed: results.len() - ok.len(),
        spearman: mean(&|r| r.spearman),
        kendall: mean(&|r| r.kendall),
        rmse: mean(&|r| r.mse).sqrt(),
        sandwich: summary(&|r| r.sandwich),
        bootstrap: summary(&|r| r.bootstrap),
    })
}

fn replicate(config: &SimulationConfig, r: u64) -> Option<Replicate> {
    let mut rng: ChaCha8Rng = round_rng(config.seed, r);
    let normal = Normal::new(0.0, config.strength_sd / ELO_PER_NATURAL_UNIT).ok()?;
    let m = config.models;
    let theta: Vec<f64> = (0..m).map(|_| normal.sample(&mut rng)).collect();
    let c = match &config.sampling {
        Sampling::Uniform => {
            let mut pair_votes = std::collections::BTreeMap::<(usize, usize), u64>::new();
            for _ in 0..config.votes {
                let (a, b) = uniform_pair(m, &mut rng);
                *pair_votes.entry((a, b)).or_default() += 1;
            }
            let mut c = Comparisons::new();
            for (&(a, b), &n) in &pair_votes {
                let counts = draw_pair_outcomes(n, theta[a], theta[b], config.tie_rate, &mut rng);
                c.add(&model_name(a), &model_name(b), counts).ok()?;
            }
            c
        }
        Sampling::Active(_) => {
            let mut arena = SimulatedArena::new(&theta, config.tie_rate);
            arena.run(&config.sampling, config.batch, config.votes, None, &mut rng);
            arena.comparisons()
        }
    };
    let mean_theta = theta.iter().sum::<f64>() / m as f64;
    let truth: Vec<f64> = theta
        .iter()
        .map(|t| 1000.0 + ELO_PER_NATURAL_UNIT * (t - mean_theta))
        .collect();

    let sandwich = fit(
        &c,
        &FitOptions {
            ci: CiMethod::Sandwich,
            ..FitOptions::default()
        },
    )
    .ok()?;
    let bootstrap = fit(
        &c,
        &FitOptions {
            ci: CiMethod::Bootstrap {
                rounds: config.bootstrap_rounds,
                seed: config.seed ^ r.rotate_left(32),
            },
            ..FitOptions::default()
        },
    )
    .ok()?;
    if sandwich.diagnostics.rated_models != m {
        return None;
    }
    let estimate: Vec<f64> = (0..m)
        .map(|k| sandwich.rating(&model_name(k)).unwrap_or(f64::NAN))
        .collect();
    let coverage = |lb: &Leaderboard| -> (f64, f64) {
        let mut covered = 0usize;
        let mut width = 0.0;
        for (k, t) in truth.iter().enumerate() {
            let row = lb.row(&model_name(k)).expect("every model has a row");
            let (lo, hi) = (
                row.ci_lower.unwrap_or(f64::NAN),
                row.ci_upper.unwrap_or(f64::NAN),
            );
            if lo <= *t && *t <= hi {
                covered += 1;
            }
            width += hi - lo;
        }
        (covered as f64 / m as f64, width / m as f64)
    };
    let mse = estimate
        .iter()
        .zip(&truth)
        .map(|(e, t)| (e - t).powi(2))
        .sum::<f64>()
        / m as f64;
    Some(Replicate {
        spearman: spearman(&estimate, &truth),
        kendall: kendall_tau_b(&estimate, &truth),
        mse,
        sandwich: coverage(&sandwich),
        bootstrap: coverage(&bootstrap),
    })
}

/// Fraction of models whose true rating (centred like the fit, mean 1000)
/// lies in its interval.
fn coverage_of(board: &Leaderboard, theta: &[f64]) -> f64 {
    let m = theta.len();
    let mean = theta.iter().sum::<f64>() / m as f64;
    let covered = (0..m)
        .filter(|&k| {
            let truth = BASE_RATING + ELO_PER_NATURAL_UNIT * (theta[k] - mean);
            board.row(&model_name(k)).is_some_and(|row| {
                matches!((row.ci_lower, row.ci_upper), (Some(lo), Some(hi)) if lo <= truth && truth <= hi)
            })
        })
        .count();
    covered as f64 / m as f64
}

/// Ranks with ties averaged (1-based).
pub(crate) fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut start = 0;
    while start < idx.len() {
        let mut end = start;
        while end + 1 < idx.len() && v[idx[end + 1]] == v[idx[start]] {
            end += 1;
        }
        let r = (start + end) as f64 / 2.0 + 1.0;
        for &i in &idx[start..=end] {
            ranks[i] = r;
        }
        start = end + 1;
    }
    ranks
}

/// Spearman's rank correlation.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&average_ranks(x), &average_ranks(y))
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    sxy / (sxx * syy).sqrt()
}

/// Kendall's τ-b.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> f64 {
    let (mut concordant, mut discordant, mut ties_x, mut ties_y) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            let dx = (x[i] - x[j]).signum() * f64::from(x[i] != x[j]);
            let dy = (y[i] - y[j]).signum() * f64::from(y[i] != y[j]);
            if dx == 0.0 && dy == 0.0 {
                continue;
            } else if dx == 0.0 {
                ties_x += 1.0;
            } else if dy == 0.0 {
                ties_y += 1.0;
            } else if dx == dy {
                concordant += 1.0;
            } else {
                discordant += 1.0;
            }
        }
    }
    (concordant - discordant)
        / ((concordant + discordant + ties_x) * (concordant + discordant + ties_y)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_correlations() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&x, &[10.0, 20.0, 30.0, 40.0]) - 1.0).abs() < 1e-12);
        assert!((kendall_tau_b(&x, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // one swapped pair of four: 5 concordant, 1 discordant
        assert!((kendall_tau_b(&x, &[1.0, 3.0, 2.0, 4.0]) - 4.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn arena_case_has_the_public_size() {
        let (c, theta) = synthetic_arena(3);
        assert_eq!(c.models().len(), 129);
        assert_eq!(theta.len(), 129);
        assert_eq!(c.pairs().count(), 3_460);
        assert_eq!(c.total_votes(), 1_670_000);
    }
}
