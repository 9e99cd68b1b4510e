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

/// A uniformly random unordered pair `(a, b)`, `a < b`.
fn uniform_pair(m: usize, rng: &mut impl Rng) -> (usize, usize) {
    let a = rng.random_range(0..m);
    let mut b = rng.random_range(0..m - 1);
    if b >= a {
        b += 1;
    }
    (a.min(b), a.max(b))
}

fn validate_sampling(sampling: &Sampling, batch: u64) -> Result<(), RatingError> {
    if let Sampling::Active(options) = sampling {
        options.validate()?;
    }
    if batch == 0 {
        return Err(RatingError::InvalidOption("batch must be ≥ 1".into()));
    }
    Ok(())
}

/// One simulated arena: true strengths, the votes so far (per pair, in the
/// order of [`pair_index`]) and the latest fit.
struct SimulatedArena<'a> {
    theta: &'a [f64],
    tie_rate: f64,
    counts: Vec<PairCounts>,
    votes: u64,
    /// Current estimate of θ (natural units), what active sampling reads.
    estimate: Vec<f64>,
    /// The latest fit with sandwich intervals, when it had a finite MLE.
    board: Option<Leaderboard>,
}

impl<'a> SimulatedArena<'a> {
    fn new(theta: &'a [f64], tie_rate: f64) -> Self {
        Self {
            theta,
            tie_rate,
            counts: vec![PairCounts::default(); pair_count(theta.len())],
            votes: 0,
            estimate: vec![0.0; theta.len()],
            board: None,
        }
    }

    fn comparisons(&self) -> Comparisons {
        let m = self.theta.len();
        let mut c = Comparisons::new();
        for k in 0..m {
            c.register(&model_name(k));
        }
        let mut k = 0;
        for a in 0..m {
            for b in a + 1..m {
                if self.counts[k].total() > 0 {
                    c.add(&model_name(a), &model_name(b), self.counts[k])
                        .expect("distinct models, counts far from overflow");
                }
                k += 1;
            }
        }
        c
    }

    /// Draws votes in batches of `batch` under `sampling` until `max_votes`,
    /// refitting after each batch; with `target_width`, stops as soon as every
    /// model is rated and the widest 95% interval is narrower. Returns whether
    /// the target was reached.
    fn run(
        &mut self,
        sampling: &Sampling,
        batch: u64,
        max_votes: u64,
        target_width: Option<f64>,
        rng: &mut impl Rng,
    ) -> bool {
        let m = self.theta.len();
        let mut batch_counts = vec![0u64; self.counts.len()];
        let mut cumulative = vec![0.0f64; self.counts.len()];
        while self.votes < max_votes {
            let size = batch.min(max_votes - self.votes);
            batch_counts.iter_mut().for_each(|c| *c = 0);
            match sampling {
                Sampling::Uniform => {
                    for _ in 0..size {
                        let (a, b) = uniform_pair(m, rng);
                        batch_counts[pair_index(m, a, b).expect("a < b < m")] += 1;
                    }
                }
                Sampling::Active(options) => {
                    let votes = self.pair_votes();
                    let pairs = pair_probabilities(&self.estimate, &votes, options)
                        .expect("options validated, estimates finite");
                    let mut sum = 0.0;
                    for (c, p) in cumulative.iter_mut().zip(&pairs) {
                        sum += p.probability;
                        *c = sum;
                    }
                    for _ in 0..size {
                        let u = rng.random::<f64>() * sum;
                        let k = cumulative.partition_point(|&c| c <= u);
                        batch_counts[k.min(cumulative.len() - 1)] += 1;
                    }
                }
            }
            let mut k = 0;
            for a in 0..m {
                for b in a + 1..m {
                    if batch_counts[k] > 0 {
                        let drawn = draw_pair_outcomes(
                            batch_counts[k],
                            self.theta[a],
                            self.theta[b],
                            self.tie_rate,
                            rng,
                        );
                        self.counts[k] = self.counts[k]
                            .checked_add(&drawn)
                            .expect("counts far from overflow");
                    }
                    k += 1;
                }
            }
            self.votes += size;
            let needs_fit = target_width.is_some() || matches!(sampling, Sampling::Active(_));
            if needs_fit {
                self.refit(target_width.is_some());
            }
            if let (Some(target), Some(board)) = (target_width, &self.board)
                && board.diagnostics.rated_models == m
                && widest_interval(board) < target
            {
                return true;
            }
        }
        false
    }

    fn pair_votes(&self) -> Vec<crate::active::PairVotes> {
        let m = self.theta.len();
        let mut out = Vec::with_capacity(self.counts.len());
        let mut k = 0;
        for a in 0..m {
            for b in a + 1..m {
                let votes = self.counts[k].total();
                if votes > 0 {
                    out.push(crate::active::PairVotes { a, b, votes });
                }
                k += 1;
            }
        }
        out
    }

    /// Fits the votes so far (exact MLE, with sandwich intervals when
    /// `intervals`); early on, when the MLE is infinite, a small ridge keeps
    /// the estimate finite (and there is no leaderboard to stop on).
    fn refit(&mut self, intervals: bool) {
        let c = self.comparisons();
        let exact = FitOptions {
            ci: if intervals {
                CiMethod::Sandwich
            } else {
                CiMethod::None
            },
            ..FitOptions::default()
        };
        self.board = fit(&c, &exact).ok();
        let estimate_from = match &self.board {
            Some(board) => Some(board.clone()),
            None => fit(
                &c,
                &FitOptions {
                    ridge: 0.01,
                    ..FitOptions::default()
                },
            )
            .ok(),
        };
        if let Some(board) = estimate_from {
            for (k, t) in self.estimate.iter_mut().enumerate() {
                *t = board
                    .rating(&model_name(k))
                    .map_or(0.0, |r| (r - BASE_RATING) / ELO_PER_NATURAL_UNIT);
            }
        }
    }
}

/// The widest 95% interval of a leaderboard (upper − lower, Elo points).
fn widest_interval(board: &Leaderboard) -> f64 {
    board
        .rows
        .iter()
        .filter_map(|r| Some(r.ci_upper? - r.ci_lower?))
        .fold(0.0, f64::max)
}

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
fn average_ranks(v: &[f64]) -> Vec<f64> {
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
