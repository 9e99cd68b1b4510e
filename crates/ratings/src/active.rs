//! Active sampling for the arena's pairing policy: which pair of models the
//! next battle should show, as probabilities over the unordered pairs.
//!
//! Each pair `(a, b)`, `a < b`, gets a non-negative score, "how much one more
//! vote on it is expected to shrink the leaderboard's uncertainty", computed
//! from the current state: the ratings θ (natural units, as the fit uses) and
//! the number of counted votes on each pair. The scores are then mixed with a
//! uniform floor so that every pair keeps being sampled.
//!
//! The uncertainty is the Bradley–Terry Fisher information
//! `I = Σ_pairs n_ab p(1−p) x xᵀ` (`x = e_a − e_b`, `p = σ(θa − θb)`) plus a
//! prior precision `λ` on every θ, `C = (I + λ·Id)⁻¹`. The prior keeps `C`
//! finite for pairs and models without votes (a new model has variance about
//! `1/λ`, far above any rated model's, so its pairs come first); and since
//! `I·1 = 0`, `C x` stays in the sum-zero subspace for every contrast `x`, so
//! the variances below are those of the mean-zero leaderboard. One more vote
//! on a pair adds `w x xᵀ` (`w = p(1−p)`), and Sherman–Morrison gives the new
//! covariance exactly: `C − w C x (C x)ᵀ / (1 + w xᵀCx)`, so the variance of
//! model `k` drops by `w (Cx)_k² / (1 + w xᵀCx)`, with `(Cx)_k = C_ka − C_kb`.
//!
//! Cost: one `n × n` inverse plus `O(n)` per pair, `O(n³)` in all (a few
//! milliseconds for 200 models).

use serde::{Deserialize, Serialize};

use crate::RatingError;
use crate::linalg::{Cholesky, Matrix};

/// What a vote is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Reduction of a soft maximum of the models' variances `V_k` (mean-zero
    /// gauge): `w Σ_k ω_k (Cx)_k² / (1 + w xᵀCx)` with `ω_k = (V_k / max V)^32`,
    /// the first-order reduction of `Σ V_k³³`, i.e. of the largest variance
    /// with near-ties shared. It sends votes to the models with the widest
    /// intervals, against the opponents that tell the most about them. The
    /// default: of the three, the one that shrinks the widest interval
    /// fastest (measured in `docs/ratings.md`).
    #[default]
    WidestInterval,
    /// Reduction of the sum of all the models' variances (the trace of the
    /// covariance): `w ‖Cx‖² / (1 + w xᵀCx)`.
    TotalVariance,
    /// The Chatbot Arena rule (Chiang et al. 2024, §5):
    /// `√(Σ_ab / n_ab) − √(Σ_ab / (n_ab + 1))` where `Σ_ab = p(1−p)` is the
    /// variance of one vote's outcome on that pair. It looks at each pair
    /// alone (the pair's win rate), not at the leaderboard; `n_ab + 1` stands
    /// for `n_ab` so that a pair without votes has a finite score.
    ChatbotArena,
}

/// Options of [`pair_scores`] and [`pair_probabilities`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActiveOptions {
    pub criterion: Criterion,
    /// Prior precision `λ` on each θ (natural units⁻²). A model without votes
    /// has variance about `1/λ`; the default 1 is a prior SD of one natural
    /// unit (≈ 174 Elo), about the spread of real arena ratings.
    pub prior_precision: f64,
    /// Share of the probability spread uniformly over all pairs, in `[0, 1]`:
    /// `probability = (1 − floor)·score/Σscore + floor/#pairs`.
    pub floor: f64,
}

impl Default for ActiveOptions {
    fn default() -> Self {
        Self {
            criterion: Criterion::WidestInterval,
            prior_precision: 1.0,
            floor: 0.1,
        }
    }
}

impl ActiveOptions {
    /// Checks that `prior_precision` is finite and > 0 and `floor` in `[0, 1]`.
    pub fn validate(&self) -> Result<(), RatingError> {
        if !(self.prior_precision > 0.0 && self.prior_precision.is_finite()) {
            return Err(RatingError::InvalidOption(format!(
                "prior_precision must be a finite number > 0, got {}",
                self.prior_precision
            )));
        }
        check_floor(self.floor)
    }
}

/// Counted votes on one pair of models (indices into the model list, either
/// order; a pair may appear several times, the votes add up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairVotes {
    pub a: usize,
    pub b: usize,
    pub votes: u64,
}

/// The score and sampling probability of one pair, `a < b`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairPriority {
    pub a: usize,
    pub b: usize,
    /// Expected uncertainty reduction of one more vote (≥ 0).
    pub score: f64,
    /// Sampling probability (the floor mixed in); sums to 1 over all pairs.
    pub probability: f64,
}

/// The soft-maximum exponent of [`Criterion::WidestInterval`].
const WIDEST_SHARPNESS: i32 = 32;

/// Number of unordered pairs of `n` models.
pub fn pair_count(n: usize) -> usize {
    n * n.saturating_sub(1) / 2
}

/// Position of the pair `{a, b}` in the lexicographic order `(0,1), (0,2), …,
/// (1,2), …` used by [`pair_scores`]; `None` if `a == b` or out of range.
pub fn pair_index(n: usize, a: usize, b: usize) -> Option<usize> {
    let (a, b) = (a.min(b), a.max(b));
    if a == b || b >= n {
        return None;
    }
    // pairs before row a: (n−1) + (n−2) + … + (n−a)
    Some(a * (2 * n - a - 1) / 2 + (b - a - 1))
}

fn validate(
    theta: &[f64],
    votes: &[PairVotes],
    options: &ActiveOptions,
) -> Result<(), RatingError> {
    if let Some(k) = theta.iter().position(|t| !t.is_finite()) {
        return Err(RatingError::InvalidOption(format!(
            "rating of model {k} is not finite (use 0, the mean, for a model without a rating)"
        )));
    }
    options.validate()?;
    let n = theta.len();
    for v in votes {
        if v.a == v.b {
            return Err(RatingError::InvalidOption(format!(
                "pair ({}, {}) pairs a model with itself",
                v.a, v.b
            )));
        }
        if v.a >= n || v.b >= n {
            return Err(RatingError::InvalidOption(format!(
                "pair ({}, {}) is out of range for {n} models",
                v.a, v.b
            )));
        }
    }
    Ok(())
}

fn check_floor(floor: f64) -> Result<(), RatingError> {
    if (0.0..=1.0).contains(&floor) {
        Ok(())
    } else {
        Err(RatingError::InvalidOption(format!(
            "floor must be in [0, 1], got {floor}"
        )))
    }
}

#[inline]
fn win_probability(theta_a: f64, theta_b: f64) -> f64 {
    1.0 / (1.0 + (theta_b - theta_a).exp())
}

/// The score of every unordered pair of `theta.len()` models, in the order of
/// [`pair_index`]: `(0,1), (0,2), …, (n−2,n−1)`.
///
/// `theta[k]`: model `k`'s current rating in natural units (only differences
/// matter: `(elo − 1000) / ELO_PER_NATURAL_UNIT` will do; use 0 for a model
/// without a rating). `votes`: counted votes per pair (pairs not listed have
/// none). Fewer than two models give an empty list.
pub fn pair_scores(
    theta: &[f64],
    votes: &[PairVotes],
    options: &ActiveOptions,
) -> Result<Vec<f64>, RatingError> {
    validate(theta, votes, options)?;
    let n = theta.len();
    if n < 2 {
        return Ok(Vec::new());
    }
    let mut counts = vec![0.0f64; pair_count(n)];
    for v in votes {
        if let Some(k) = pair_index(n, v.a, v.b) {
            counts[k] += v.votes as f64;
        }
    }
    let scores = match options.criterion {
        Criterion::ChatbotArena => chatbot_arena_scores(theta, &counts),
        Criterion::TotalVariance | Criterion::WidestInterval => {
            let c = covariance(theta, &counts, options.prior_precision);
            let weights = match options.criterion {
                Criterion::TotalVariance => vec![1.0; n],
                _ => widest_weights(&c),
            };
            sherman_morrison_scores(theta, &c, &weights)
        }
    };
    Ok(scores)
}

/// Mixes scores with a uniform floor:
/// `probability = (1 − floor)·score/Σscore + floor/#pairs`; uniform when every
/// score is 0. Negative or non-finite scores count as 0.
pub fn sampling_probabilities(scores: &[f64], floor: f64) -> Result<Vec<f64>, RatingError> {
    check_floor(floor)?;
    if scores.is_empty() {
        return Ok(Vec::new());
    }
    let clean = |s: f64| if s.is_finite() && s > 0.0 { s } else { 0.0 };
    let total: f64 = scores.iter().map(|&s| clean(s)).sum();
    let uniform = 1.0 / scores.len() as f64;
    if !(total > 0.0 && total.is_finite()) {
        return Ok(vec![uniform; scores.len()]);
    }
    Ok(scores
        .iter()
        .map(|&s| (1.0 - floor) * clean(s) / total + floor * uniform)
        .collect())
}

/// [`pair_scores`] and [`sampling_probabilities`] in one call, each pair
/// labelled with its model indices: what the server samples the next battle
/// from.
pub fn pair_probabilities(
    theta: &[f64],
    votes: &[PairVotes],
    options: &ActiveOptions,
) -> Result<Vec<PairPriority>, RatingError> {
    let scores = pair_scores(theta, votes, options)?;
    let probabilities = sampling_probabilities(&scores, options.floor)?;
    let n = theta.len();
    let pairs = (0..n).flat_map(|a| (a + 1..n).map(move |b| (a, b)));
    Ok(pairs
        .zip(scores.iter().zip(&probabilities))
        .map(|((a, b), (&score, &probability))| PairPriority {
            a,
            b,
            score,
            probability,
        })
        .collect())
}

/// `C = (I + λ·Id)⁻¹` with `I` the Fisher information of the counts at `theta`.
fn covariance(theta: &[f64], counts: &[f64], prior_precision: f64) -> Matrix {
    let n = theta.len();
    let mut info = Matrix::identity(n);
    info.data.iter_mut().for_each(|v| *v *= prior_precision);
    let mut k = 0;
    for a in 0..n {
        for b in a + 1..n {
            if counts[k] > 0.0 {
                let p = win_probability(theta[a], theta[b]);
                let w = counts[k] * p * (1.0 - p);
                info.add(a, a, w);
                info.add(b, b, w);
                info.add(a, b, -w);
                info.add(b, a, -w);
            }
            k += 1;
        }
    }
    // I + λ·Id is symmetric positive definite (λ > 0); a failure can only
    // come from absurd counts, and then no information is the safe answer.
    match Cholesky::new(&info) {
        Some(chol) => chol.inverse(),
        None => {
            let mut c = Matrix::identity(n);
            c.data.iter_mut().for_each(|v| *v /= prior_precision);
            c
        }
    }
}

/// `(V_k / max V)^32` where `V_k = C_kk − 2·mean(row k) + mean(C)` is model
/// `k`'s variance in the mean-zero gauge.
fn widest_weights(c: &Matrix) -> Vec<f64> {
    let n = c.n;
    let nf = n as f64;
    let row_means: Vec<f64> = (0..n).map(|i| c.row(i).iter().sum::<f64>() / nf).collect();
    let grand = row_means.iter().sum::<f64>() / nf;
    let var: Vec<f64> = (0..n)
        .map(|i| (c.get(i, i) - 2.0 * row_means[i] + grand).max(0.0))
        .collect();
    let max = var.iter().copied().fold(0.0, f64::max);
    if max <= 0.0 {
        return vec![1.0; n];
    }
    var.iter()
        .map(|v| (v / max).powi(WIDEST_SHARPNESS))
        .collect()
}

/// `w Σ_k ω_k (Cx)_k² / (1 + w xᵀCx)` for every pair.
fn sherman_morrison_scores(theta: &[f64], c: &Matrix, weights: &[f64]) -> Vec<f64> {
    let n = theta.len();
    let mut scores = Vec::with_capacity(pair_count(n));
    for a in 0..n {
        let row_a = c.row(a);
        for b in a + 1..n {
            let row_b = c.row(b);
            let p = win_probability(theta[a], theta[b]);
            let w = p * (1.0 - p);
            let quad = (row_a[a] + row_b[b] - 2.0 * row_a[b]).max(0.0);
            let reduction: f64 = row_a
                .iter()
                .zip(row_b)
                .zip(weights)
                .map(|((ca, cb), om)| {
                    let d = ca - cb;
                    om * d * d
                })
                .sum();
            scores.push((w * reduction / (1.0 + w * quad)).max(0.0));
        }
    }
    scores
}

fn chatbot_arena_scores(theta: &[f64], counts: &[f64]) -> Vec<f64> {
    let n = theta.len();
    let mut scores = Vec::with_capacity(counts.len());
    let mut k = 0;
    for a in 0..n {
        for b in a + 1..n {
            let p = win_probability(theta[a], theta[b]);
            let sigma = p * (1.0 - p);
            let m = counts[k] + 1.0;
            scores.push(((sigma / m).sqrt() - (sigma / (m + 1.0)).sqrt()).max(0.0));
            k += 1;
        }
    }
    scores
}

#[cfg(test)]
mod tests;
