//! The Bayesian view: a Gaussian (Laplace) posterior over log-strengths,
//! updated batch by batch. The posterior after one batch is the prior of the
//! next, optionally widened by process noise so that ratings can drift. With a
//! weak initial prior, streaming all batches lands on the full-data fit.
//!
//! Ties count as half wins (the Bradley–Terry likelihood of [`crate::fit`]).

use serde::{Deserialize, Serialize};

use crate::fit::{
    CiMethod, ELO_PER_NATURAL_UNIT, FitDiagnostics, Gauge, Leaderboard, RatingRow, Z_95, ranks,
    sort_rows,
};
use crate::linalg::{Cholesky, Matrix};
use crate::model::{self, GaussianPrior, Penalty, Problem, TieModel};
use crate::{Comparisons, RatingError};

/// Options of [`BayesianRatings`], in Elo points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BayesOptions {
    /// Prior standard deviation of a model first seen (Elo points).
    pub prior_sd: f64,
    /// Standard deviation of the random walk added before each batch (Elo
    /// points); 0 for static strengths.
    pub process_noise_sd: f64,
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for BayesOptions {
    fn default() -> Self {
        Self {
            prior_sd: 1000.0,
            process_noise_sd: 0.0,
            tolerance: 1e-10,
            max_iterations: 100,
        }
    }
}

/// A Gaussian over log-strengths θ (natural units; rating = 1000 + 400/ln10·θ
/// after centring). Store it and pass it back to [`BayesianRatings::from_posterior`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianPosterior {
    pub models: Vec<String>,
    pub mean: Vec<f64>,
    /// Row-major `n × n` precision matrix (inverse covariance).
    pub precision: Vec<f64>,
    /// Votes seen per model.
    pub votes: Vec<u64>,
    pub batches: u64,
}

impl GaussianPosterior {
    fn empty() -> Self {
        Self {
            models: Vec::new(),
            mean: Vec::new(),
            precision: Vec::new(),
            votes: Vec::new(),
            batches: 0,
        }
    }

    fn matrix(&self) -> Matrix {
        Matrix {
            n: self.models.len(),
            data: self.precision.clone(),
        }
    }

    fn covariance(&self) -> Result<Matrix, RatingError> {
        Cholesky::new(&self.matrix())
            .map(|c| c.inverse())
            .ok_or_else(|| {
                RatingError::InvalidPosterior("precision is not positive definite".into())
            })
    }

    fn validate(&self) -> Result<(), RatingError> {
        let n = self.models.len();
        if self.mean.len() != n || self.votes.len() != n || self.precision.len() != n * n {
            return Err(RatingError::InvalidPosterior("inconsistent sizes".into()));
        }
        if self
            .mean
            .iter()
            .chain(&self.precision)
            .any(|v| !v.is_finite())
        {
            return Err(RatingError::InvalidPosterior("non-finite values".into()));
        }
        let mut seen = std::collections::HashSet::new();
        if !self.models.iter().all(|m| seen.insert(m)) {
            return Err(RatingError::InvalidPosterior("duplicate model".into()));
        }
        if n > 0 {
            self.covariance()?;
        }
        Ok(())
    }
}

/// What one [`BayesianRatings::update`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateDiagnostics {
    pub iterations: usize,
    pub gradient_norm: f64,
    pub converged: bool,
    pub votes: u64,
}

/// Streaming Bayesian ratings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BayesianRatings {
    posterior: GaussianPosterior,
    options: BayesOptions,
    last_update: Option<UpdateDiagnostics>,
}

impl BayesianRatings {
    pub fn new(options: BayesOptions) -> Result<Self, RatingError> {
        if !(options.prior_sd > 0.0 && options.prior_sd.is_finite()) {
            return Err(RatingError::InvalidOption("prior_sd must be > 0".into()));
        }
        if !(options.process_noise_sd >= 0.0 && options.process_noise_sd.is_finite()) {
            return Err(RatingError::InvalidOption(
                "process_noise_sd must be ≥ 0".into(),
            ));
        }
        Ok(Self {
            posterior: GaussianPosterior::empty(),
            options,
            last_update: None,
        })
    }

    /// Resumes from a stored posterior.
    pub fn from_posterior(
        posterior: GaussianPosterior,
        options: BayesOptions,
    ) -> Result<Self, RatingError> {
        posterior.validate()?;
        let mut s = Self::new(options)?;
        s.posterior = posterior;
        Ok(s)
    }

    /// The current posterior (store it to resume later).
    pub fn posterior(&self) -> &GaussianPosterior {
        &self.posterior
    }

    /// The prior the next batch will be combined with: the posterior widened
    /// by the process noise.
    pub fn prior(&self) -> Result<GaussianPosterior, RatingError> {
        let mut prior = self.posterior.clone();
        let q = self.options.process_noise_sd / ELO_PER_NATURAL_UNIT;
        if q > 0.0 && !prior.models.is_empty() {
            let mut cov = prior.covariance()?;
            for k in 0..cov.n {
                cov.add(k, k, q * q);
            }
            prior.precision = Cholesky::new(&cov)
                .ok_or_else(|| {
                    RatingError::InvalidPosterior("covariance not positive definite".into())
                })?
                .inverse()
                .data;
        }
        Ok(prior)
    }

    fn register(&mut self, model: &str) -> usize {
        if let Some(i) = self.posterior.models.iter().position(|m| m == model) {
            return i;
        }
        let post = &mut self.posterior;
        let n = post.models.len();
        let sd = self.options.prior_sd / ELO_PER_NATURAL_UNIT;
        let mut precision = vec![0.0; (n + 1) * (n + 1)];
        for i in 0..n {
            precision[i * (n + 1)..i * (n + 1) + n]
                .copy_from_slice(&post.precision[i * n..(i + 1) * n]);
        }
        precision[n * (n + 1) + n] = 1.0 / (sd * sd);
        post.precision = precision;
        post.models.push(model.to_owned());
        post.mean.push(0.0);
        post.votes.push(0);
        n
    }

    /// Combines one batch of comparisons with the prior by a Laplace
    /// approximation: the new mean is the posterior mode, the new precision
    /// the prior precision plus the batch's Fisher information at the mode.
    pub fn update(&mut self, batch: &Comparisons) -> Result<UpdateDiagnostics, RatingError> {
        for m in batch.models() {
            self.register(m);
        }
        let prior = self.prior()?;
        let n = prior.models.len();
        let position = |name: &str| prior.models.iter().position(|m| m == name);
        let mut problem = Problem {
            n,
            i: Vec::new(),
            j: Vec::new(),
            wins_i: Vec::new(),
            wins_j: Vec::new(),
            ties: Vec::new(),
        };
        let mut votes = prior.votes.clone();
        for pair in batch.pairs() {
            let c = pair.counts;
            if c.total() == 0 {
                continue;
            }
            let (a, b) = (
                position(&pair.model_a).expect("registered"),
                position(&pair.model_b).expect("registered"),
            );
            votes[a] += c.total();
            votes[b] += c.total();
            problem.i.push(a);
            problem.j.push(b);
            problem.wins_i.push(c.wins_a as f64);
            problem.wins_j.push(c.wins_b as f64);
            problem.ties.push(c.all_ties() as f64);
        }
        let precision = prior.matrix();
        let penalty = Penalty {
            ridge: 0.0,
            prior: Some(GaussianPrior {
                mean: &prior.mean,
                precision: &precision,
            }),
        };
        let sol = model::newton(
            &problem,
            TieModel::Half,
            &penalty,
            &prior.mean,
            self.options.tolerance,
            self.options.max_iterations,
        );
        if !sol.gradient_norm.is_finite()
            || sol.gradient_norm > 1e-6 * (batch.total_votes() as f64).max(1.0)
        {
            return Err(RatingError::NotConverged {
                iterations: sol.iterations,
                gradient_norm: sol.gradient_norm,
            });
        }
        self.posterior = GaussianPosterior {
            models: prior.models,
            mean: sol.x,
            precision: sol.hessian.data,
            votes,
            batches: prior.batches + 1,
        };
        let diag = UpdateDiagnostics {
            iterations: sol.iterations,
            gradient_norm: sol.gradient_norm,
            converged: sol.converged,
            votes: batch.total_votes(),
        };
        self.last_update = Some(diag.clone());
        Ok(diag)
    }

    /// Posterior means on the Elo scale (centred on 1000 over models with
    /// votes, or anchored) with 95% credible intervals.
    /// `anchor`: `Some((model, rating))` pins that model's rating.
    pub fn leaderboard(&self, anchor: Option<(&str, f64)>) -> Result<Leaderboard, RatingError> {
        let post = &self.posterior;
        let rated: Vec<usize> = (0..post.models.len())
            .filter(|&m| post.votes[m] > 0)
            .collect();
        if rated.is_empty() {
            return Err(RatingError::NoVotes);
        }
        let cov_all = post.covariance()?;
        let k = rated.len();
        let mut cov = Matrix::zeros(k);
        for (a, &ma) in rated.iter().enumerate() {
            for (b, &mb) in rated.iter().enumerate() {
                cov.data[a * k + b] = cov_all.get(ma, mb);
            }
        }
        let anchor = match anchor {
            None => None,
            Some((model, rating)) => Some((
                rated
                    .iter()
                    .position(|&m| post.models[m] == model)
                    .ok_or_else(|| RatingError::UnknownAnchor {
                        model: model.to_owned(),
                    })?,
                rating,
            )),
        };
        let gauge = Gauge { anchor };
        let theta: Vec<f64> = rated.iter().map(|&m| post.mean[m]).collect();
        let ratings = gauge.ratings(&theta);
        let var = gauge.variances(&cov, k);
        let intervals: Vec<(f64, f64)> = ratings
            .iter()
            .zip(&var)
            .map(|(r, v)| {
                let h = Z_95 * ELO_PER_NATURAL_UNIT * v.max(0.0).sqrt();
                (r - h, r + h)
            })
            .collect();
        let rank = ranks(&ratings, Some(&intervals));
        let mut rows: Vec<RatingRow> = rated
            .iter()
            .enumerate()
            .map(|(pos, &m)| RatingRow {
                model: post.models[m].clone(),
                rating: Some(ratings[pos]),
                ci_lower: Some(intervals[pos].0),
                ci_upper: Some(intervals[pos].1),
                rank: Some(rank[pos]),
                votes: post.votes[m],
            })
            .collect();
        sort_rows(&mut rows);
        let mut unrated: Vec<String> = (0..post.models.len())
            .filter(|&m| post.votes[m] == 0)
            .map(|m| post.models[m].clone())
            .collect();
        unrated.sort();
        rows.extend(unrated.iter().map(|m| RatingRow {
            model: m.clone(),
            rating: None,
            ci_lower: None,
            ci_upper: None,
            rank: None,
            votes: 0,
        }));
        let last = self.last_update.clone();
        Ok(Leaderboard {
            rows,
            diagnostics: FitDiagnostics {
                ties: TieModel::Half,
                iterations: last.as_ref().map_or(0, |d| d.iterations),
                gradient_norm: last.as_ref().map_or(0.0, |d| d.gradient_norm),
                converged: last.as_ref().is_none_or(|d| d.converged),
                log_likelihood: None,
                total_votes: post.votes.iter().sum::<u64>() / 2,
                rated_models: k,
                unrated_models: unrated,
                components: Vec::new(),
                tie_parameter: None,
                tie_parameter_ci: None,
                ci: CiMethod::None,
                bootstrap_failed_rounds: 0,
                warnings: Vec::new(),
            },
        })
    }
}
