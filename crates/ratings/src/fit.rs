//! The leaderboard fit: Bradley–Terry maximum likelihood on aggregated counts
//! (ties as half wins, or Davidson's tie model), solved by Newton's method,
//! put on the Elo scale, with sandwich or bootstrap confidence intervals.

use std::f64::consts::LN_10;

use serde::{Deserialize, Serialize};

use crate::bootstrap::bootstrap_intervals;
use crate::graph;
use crate::linalg::Matrix;
use crate::model::{self, Penalty, Problem, TieModel};
use crate::sandwich::{sandwich_covariance, sandwich_variances_half};
use crate::{Comparisons, RatingError};

/// Elo points per unit of log-strength: `400 / ln 10`.
pub const ELO_PER_NATURAL_UNIT: f64 = 400.0 / LN_10;
/// The mean rating when no anchor is given.
pub const BASE_RATING: f64 = 1000.0;
/// The two-sided 95% normal quantile.
pub(crate) const Z_95: f64 = 1.959_963_984_540_054;

/// How to compute the 95% confidence intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum CiMethod {
    /// Point estimates only; ranks by rating.
    #[default]
    None,
    /// Robust (sandwich) covariance `H⁻¹ G H⁻¹`, normal intervals.
    Sandwich,
    /// Multinomial bootstrap of the counts, percentile intervals. Deterministic
    /// for a given seed whatever the number of threads.
    Bootstrap { rounds: usize, seed: u64 },
}

/// Options of [`fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FitOptions {
    pub ties: TieModel,
    /// `Some((model, rating))` pins that model's rating (Chatbot Arena anchors
    /// `mixtral-8x7b-instruct-v0.1` at 1114); `None`: the mean rating of the
    /// rated models is [`BASE_RATING`].
    pub anchor: Option<(String, f64)>,
    /// Ridge penalty `ridge/2·Σθ²` (θ in natural units); 0 for the exact MLE.
    /// A small value (e.g. 0.01) makes the fit finite on a disconnected graph
    /// or when a model never lost or never won.
    pub ridge: f64,
    pub ci: CiMethod,
    /// Stop when the gradient norm of the objective is at most this.
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            ties: TieModel::Half,
            anchor: None,
            ridge: 0.0,
            ci: CiMethod::None,
            tolerance: 1e-10,
            max_iterations: 100,
        }
    }
}

/// One leaderboard row. Models without votes have no rating, interval or rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatingRow {
    pub model: String,
    pub rating: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    /// 1 + the number of models whose lower bound exceeds this model's upper
    /// bound (by rating alone when there are no intervals).
    pub rank: Option<usize>,
    pub votes: u64,
}

/// How the fit went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitDiagnostics {
    pub ties: TieModel,
    pub iterations: usize,
    pub gradient_norm: f64,
    /// Whether the gradient norm reached the tolerance.
    pub converged: bool,
    /// Log-likelihood at the fit (None for the Bayesian view).
    pub log_likelihood: Option<f64>,
    pub total_votes: u64,
    pub rated_models: usize,
    /// Models listed without a rating because they have no votes.
    pub unrated_models: Vec<String>,
    /// Connected components of the comparison graph when there are several
    /// (possible only with a ridge penalty); empty when connected.
    pub components: Vec<Vec<String>>,
    /// Davidson's ν (None for the half-win model).
    pub tie_parameter: Option<f64>,
    /// 95% interval for ν, when intervals were asked for.
    pub tie_parameter_ci: Option<(f64, f64)>,
    pub ci: CiMethod,
    /// Bootstrap rounds whose resampled data had no finite MLE (skipped).
    pub bootstrap_failed_rounds: usize,
    /// Human-readable caveats: a fit made finite only by the ridge (disconnected
    /// graph, a group that never lost or never won), a gradient that stalled
    /// above the tolerance, skipped bootstrap rounds, models without votes.
    pub warnings: Vec<String>,
}

/// The result of [`fit`]: rows sorted by rating (unrated models last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    pub rows: Vec<RatingRow>,
    pub diagnostics: FitDiagnostics,
}

impl Leaderboard {
    /// The row of `model`.
    pub fn row(&self, model: &str) -> Option<&RatingRow> {
        self.rows.iter().find(|r| r.model == model)
    }

    /// The rating of `model`, if it has one.
    pub fn rating(&self, model: &str) -> Option<f64> {
        self.row(model).and_then(|r| r.rating)
    }
}

/// How θ maps to ratings: centred on [`BASE_RATING`], or anchored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gauge {
    pub(crate) anchor: Option<(usize, f64)>,
}

impl Gauge {
    pub(crate) fn ratings(&self, theta: &[f64]) -> Vec<f64> {
        let offset = match self.anchor {
            Some((a, value)) => value - ELO_PER_NATURAL_UNIT * theta[a],
            None => {
                let mean = theta.iter().sum::<f64>() / theta.len() as f64;
                BASE_RATING - ELO_PER_NATURAL_UNIT * mean
            }
        };
        theta
            .iter()
            .map(|t| offset + ELO_PER_NATURAL_UNIT * t)
            .collect()
    }

    /// Variance of each model's rating, in natural units², from a covariance
    /// of θ (the leading `n × n` block of `cov` is used).
    pub(crate) fn variances(&self, cov: &Matrix, n: usize) -> Vec<f64> {
        match self.anchor {
            Some((a, _)) => (0..n)
                .map(|i| cov.get(i, i) + cov.get(a, a) - 2.0 * cov.get(i, a))
                .collect(),
            None => {
                let nf = n as f64;
                let row_means: Vec<f64> = (0..n)
                    .map(|i| (0..n).map(|j| cov.get(i, j)).sum::<f64>() / nf)
                    .collect();
                let grand = row_means.iter().sum::<f64>() / nf;
                (0..n)
                    .map(|i| cov.get(i, i) - 2.0 * row_means[i] + grand)
                    .collect()
            }
        }
    }
}

/// The rated models of `c` (those with votes) and the solver's view of them.
pub(crate) struct Prepared {
    /// Index in `Comparisons::models()` of each rated model.
    pub(crate) rated: Vec<usize>,
    pub(crate) problem: Problem,
    pub(crate) votes: Vec<u64>,
}

pub(crate) fn prepare(c: &Comparisons) -> Prepared {
    let n_all = c.models().len();
    let mut votes = vec![0u64; n_all];
    for (a, b, counts) in c.indexed_pairs() {
        votes[a] += counts.total();
        votes[b] += counts.total();
    }
    let mut position = vec![usize::MAX; n_all];
    let mut rated = Vec::new();
    for (m, &v) in votes.iter().enumerate() {
        if v > 0 {
            position[m] = rated.len();
            rated.push(m);
        }
    }
    let mut problem = Problem {
        n: rated.len(),
        i: Vec::new(),
        j: Vec::new(),
        wins_i: Vec::new(),
        wins_j: Vec::new(),
        ties: Vec::new(),
    };
    for (a, b, counts) in c.indexed_pairs() {
        if counts.total() == 0 {
            continue;
        }
        problem.i.push(position[a]);
        problem.j.push(position[b]);
        problem.wins_i.push(counts.wins_a as f64);
        problem.wins_j.push(counts.wins_b as f64);
        problem.ties.push(counts.all_ties() as f64);
    }
    Prepared {
        rated,
        problem,
        votes,
    }
}

fn validate(options: &FitOptions) -> Result<(), RatingError> {
    if !(options.ridge >= 0.0 && options.ridge.is_finite()) {
        return Err(RatingError::InvalidOption(format!(
            "ridge must be a finite number ≥ 0, got {}",
            options.ridge
        )));
    }
    if options.tolerance.is_nan() || options.tolerance <= 0.0 {
        return Err(RatingError::InvalidOption(
            "tolerance must be > 0".to_owned(),
        ));
    }
    if let Some((_, rating)) = &options.anchor
        && !rating.is_finite()
    {
        return Err(RatingError::InvalidOption(
            "anchor rating must be finite".to_owned(),
        ));
    }
    if let CiMethod::Bootstrap { rounds, .. } = options.ci
        && rounds < 2
    {
        return Err(RatingError::InvalidOption(
            "bootstrap needs at least 2 rounds".to_owned(),
        ));
    }
    Ok(())
}

/// Fits the leaderboard. Pure and CPU-bound: call it from `spawn_blocking` in
/// an async server.
pub fn fit(comparisons: &Comparisons, options: &FitOptions) -> Result<Leaderboard, RatingError> {
    validate(options)?;
    let prep = prepare(comparisons);
    let names = comparisons.models();
    let p = &prep.problem;
    if p.n == 0 {
        return Err(RatingError::NoVotes);
    }
    let name_groups = |groups: &[Vec<usize>]| -> Vec<Vec<String>> {
        groups
            .iter()
            .map(|g| g.iter().map(|&m| names[prep.rated[m]].clone()).collect())
            .collect()
    };

    let mut warnings = Vec::new();
    let comps = graph::components(p);
    if comps.len() > 1 && options.ridge > 0.0 {
        warnings.push(format!(
            "the comparison graph has {} connected components; ratings in different components are comparable only through the ridge penalty",
            comps.len()
        ));
    }
    if comps.len() > 1 && options.ridge == 0.0 {
        return Err(RatingError::Disconnected {
            components: name_groups(&comps),
        });
    }
    if options.ridge > 0.0
        && comps.len() == 1
        && let Some((never_lost, never_won)) = graph::infinite_groups(p)
    {
        let named = |v: Vec<usize>| name_groups(&[v]).remove(0).join(", ");
        warnings.push(format!(
            "the maximum-likelihood ratings are infinite (never lost: [{}]; never won: [{}]); these ratings are finite only through the ridge penalty",
            named(never_lost),
            named(never_won)
        ));
    }
    if options.ridge == 0.0
        && let Some((never_lost, never_won)) = graph::infinite_groups(p)
    {
        let named = |v: Vec<usize>| name_groups(&[v]).remove(0);
        return Err(RatingError::NoFiniteMle {
            never_lost: named(never_lost),
            never_won: named(never_won),
        });
    }

    let anchor = match &options.anchor {
        None => None,
        Some((model, rating)) => {
            let pos = comparisons
                .index_of(model)
                .and_then(|idx| prep.rated.iter().position(|&r| r == idx))
                .ok_or_else(|| RatingError::UnknownAnchor {
                    model: model.clone(),
                })?;
            Some((pos, *rating))
        }
    };
    let gauge = Gauge { anchor };

    // Davidson without any tie has ν → 0, which is exactly Bradley–Terry.
    let mut ties = options.ties;
    let mut nu_is_zero = false;
    if ties == TieModel::Davidson {
        if p.total_decisive() == 0.0 {
            return Err(RatingError::OnlyTies);
        }
        if p.total_ties() == 0.0 {
            ties = TieModel::Half;
            nu_is_zero = true;
        }
    }

    let x0 = initial_point(p, ties);
    let penalty = Penalty::ridge(options.ridge);
    let sol = model::newton(
        p,
        ties,
        &penalty,
        &x0,
        options.tolerance,
        options.max_iterations,
    );
    let total_votes = comparisons.total_votes();
    // Rounding can stall the gradient a little above a very tight tolerance on
    // huge counts; that is reported (converged = false), not an error. A fit
    // that is nowhere near the optimum is an error.
    if !sol.gradient_norm.is_finite() || sol.gradient_norm > 1e-6 * (total_votes as f64).max(1.0) {
        return Err(RatingError::NotConverged {
            iterations: sol.iterations,
            gradient_norm: sol.gradient_norm,
        });
    }

    let theta = &sol.x[..p.n];
    let ratings = gauge.ratings(theta);
    let mut tie_parameter = match ties {
        TieModel::Davidson => Some(sol.x[p.n].exp()),
        TieModel::Half if nu_is_zero => Some(0.0),
        TieModel::Half => None,
    };
    if options.ties == TieModel::Half {
        tie_parameter = None;
    }

    let mut intervals: Option<Vec<(f64, f64)>> = None;
    let mut tie_parameter_ci = None;
    let mut failed = 0;
    match options.ci {
        CiMethod::None => {}
        CiMethod::Sandwich => {
            let cov = (ties == TieModel::Davidson)
                .then(|| sandwich_covariance(p, ties, &sol, options.ridge));
            let var = match &cov {
                Some(cov) => gauge.variances(cov, p.n),
                None => sandwich_variances_half(p, &sol, options.ridge, &gauge),
            };
            intervals = Some(
                ratings
                    .iter()
                    .zip(&var)
                    .map(|(r, v)| {
                        let h = Z_95 * ELO_PER_NATURAL_UNIT * v.max(0.0).sqrt();
                        (r - h, r + h)
                    })
                    .collect(),
            );
            if let Some(cov) = &cov {
                let eta = sol.x[p.n];
                let h = Z_95 * cov.get(p.n, p.n).max(0.0).sqrt();
                tie_parameter_ci = Some(((eta - h).exp(), (eta + h).exp()));
            }
        }
        CiMethod::Bootstrap { rounds, seed } => {
            let b = bootstrap_intervals(
                p,
                ties,
                options.ridge,
                &sol.x,
                &gauge,
                rounds,
                seed,
                options.tolerance,
                options.max_iterations,
            );
            intervals = Some(b.intervals);
            tie_parameter_ci = b.tie_parameter;
            failed = b.failed_rounds;
        }
    }

    if !sol.converged {
        warnings.push(format!(
            "gradient norm {:.2e} stalled above the tolerance {:.0e} after {} iterations (floating-point rounding on large counts)",
            sol.gradient_norm, options.tolerance, sol.iterations
        ));
    }
    if failed > 0 {
        warnings.push(format!(
            "{failed} bootstrap rounds had no finite MLE (or did not converge) and were skipped"
        ));
    }
    let ranks = ranks(&ratings, intervals.as_deref());
    let mut rows: Vec<RatingRow> = Vec::with_capacity(names.len());
    for (pos, &m) in prep.rated.iter().enumerate() {
        rows.push(RatingRow {
            model: names[m].clone(),
            rating: Some(ratings[pos]),
            ci_lower: intervals.as_ref().map(|iv| iv[pos].0),
            ci_upper: intervals.as_ref().map(|iv| iv[pos].1),
            rank: Some(ranks[pos]),
            votes: prep.votes[m],
        });
    }
    let mut unrated: Vec<String> = (0..names.len())
        .filter(|&m| prep.votes[m] == 0)
        .map(|m| names[m].clone())
        .collect();
    unrated.sort();
    if !unrated.is_empty() {
        warnings.push(format!(
            "{} models without votes are listed without a rating: {}",
            unrated.len(),
            unrated.join(", ")
        ));
    }
    sort_rows(&mut rows);
    rows.extend(unrated.iter().map(|m| RatingRow {
        model: m.clone(),
        rating: None,
        ci_lower: None,
        ci_upper: None,
        rank: None,
        votes: 0,
    }));

    Ok(Leaderboard {
        rows,
        diagnostics: FitDiagnostics {
            ties: options.ties,
            iterations: sol.iterations,
            gradient_norm: sol.gradient_norm,
            converged: sol.converged,
            log_likelihood: Some(-model::neg_log_likelihood(p, ties, &sol.x)),
            total_votes,
            rated_models: p.n,
            unrated_models: unrated,
            components: if comps.len() > 1 {
                name_groups(&comps)
            } else {
                Vec::new()
            },
            tie_parameter,
            tie_parameter_ci,
            ci: options.ci,
            bootstrap_failed_rounds: failed,
            warnings,
        },
    })
}

/// θ = 0, and for Davidson the ν that matches the overall tie rate at θ = 0
/// (P(tie) = ν/(2 + ν)).
pub(crate) fn initial_point(p: &Problem, ties: TieModel) -> Vec<f64> {
    let mut x = vec![0.0; p.dim(ties)];
    // Each model's logit score rate against its opponents: a cheap start
    // that saves a Newton iteration or two on wide rating spreads.
    let mut points = vec![0.5; p.n];
    let mut games = vec![1.0; p.n];
    for k in 0..p.i.len() {
        let n = p.wins_i[k] + p.wins_j[k] + p.ties[k];
        points[p.i[k]] += p.wins_i[k] + 0.5 * p.ties[k];
        points[p.j[k]] += p.wins_j[k] + 0.5 * p.ties[k];
        games[p.i[k]] += n;
        games[p.j[k]] += n;
    }
    for m in 0..p.n {
        let rate = points[m] / games[m];
        x[m] = (rate / (1.0 - rate)).ln().clamp(-5.0, 5.0);
    }
    let mean = x[..p.n].iter().sum::<f64>() / p.n as f64;
    x[..p.n].iter_mut().for_each(|t| *t -= mean);
    if ties == TieModel::Davidson {
        let t = p.total_ties();
        let all = t + p.total_decisive();
        let rate = (t / all).clamp(1e-6, 1.0 - 1e-6);
        x[p.n] = (2.0 * rate / (1.0 - rate)).ln();
    }
    x
}

/// 1 + the number of models whose lower bound exceeds this model's upper bound.
pub(crate) fn ranks(ratings: &[f64], intervals: Option<&[(f64, f64)]>) -> Vec<usize> {
    let bounds: Vec<(f64, f64)> = match intervals {
        Some(iv) => iv.to_vec(),
        None => ratings.iter().map(|&r| (r, r)).collect(),
    };
    bounds
        .iter()
        .map(|&(_, upper)| 1 + bounds.iter().filter(|&&(lower, _)| lower > upper).count())
        .collect()
}

pub(crate) fn sort_rows(rows: &mut [RatingRow]) {
    rows.sort_by(|a, b| {
        b.rating
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.rating.unwrap_or(f64::NEG_INFINITY))
            .then_with(|| a.model.cmp(&b.model))
    });
}
