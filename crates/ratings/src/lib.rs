//! # arena-ratings: the arena's rating engine
//!
//! Pure computation (no I/O, no async, no database): call it from
//! `tokio::task::spawn_blocking` in the server. Every public input and output
//! type derives serde's `Serialize`/`Deserialize`.
//!
//! ## Leaderboard fit
//! Input: aggregated outcome counts per model pair ([`Comparisons`], keyed by
//! model name): `Comparisons::register(model)` and
//! `Comparisons::add(model_a, model_b, PairCounts { wins_a, wins_b, ties, both_bad })`;
//! a pair may be added in either order and any number of times (counts add up).
//! The fit depends only on these counts, so its cost is independent of the
//! number of votes.
//!
//! * [`fit`]`(&Comparisons, &FitOptions) -> Result<Leaderboard, RatingError>`:
//!   Bradley–Terry maximum likelihood, ties (and "both bad") as half a win
//!   each ([`TieModel::Half`], the Chatbot Arena convention) or Davidson's tie
//!   model ([`TieModel::Davidson`], reporting ν in
//!   [`FitDiagnostics::tie_parameter`]). Solved by damped Newton's method
//!   (Cholesky solve, step halving) to a gradient norm ≤ 1e-10.
//! * Elo scale: `rating = 1000 + 400/ln10 · θ`, mean 1000 over rated models, or
//!   pinned by [`FitOptions::anchor`].
//! * A disconnected comparison graph ([`RatingError::Disconnected`]) or an
//!   infinite MLE (a group that never lost or never won,
//!   [`RatingError::NoFiniteMle`]) is reported; [`FitOptions::ridge`] > 0
//!   makes the fit finite (and [`FitDiagnostics::warnings`] says so). Models
//!   without votes are listed without a rating.
//! * Intervals ([`CiMethod`]): the sandwich covariance `H⁻¹GH⁻¹`, where the
//!   meat `G` sums, over (pair, outcome) cells, count × score·scoreᵀ of one
//!   vote; or the multinomial bootstrap of the counts (parallel, warm-started,
//!   deterministic for a seed whatever the thread count), 95% percentile
//!   intervals. Rank = 1 + number of models whose lower bound exceeds this
//!   model's upper bound.
//!
//! ## Other views
//! * [`online_elo`]: chronological online Elo (K = 4, ties ½).
//! * [`BayesianRatings`]: a Gaussian (Laplace) posterior updated batch by
//!   batch with `prior()`, `update(&Comparisons)`, `posterior()` and
//!   `leaderboard()`; the [`GaussianPosterior`] serialises so the server can
//!   store it and resume.
//! * [`provisional`]: which models have too few votes to be ranked (their posterior's
//!   credible interval is wider than a threshold), with their posterior standing and the votes
//!   they still need.
//! * [`correlation`]: Spearman's ρ and Kendall's τ-b between the arena's ratings and a static
//!   benchmark's scores, with bootstrap intervals over the models.
//! * [`regression`]: a new version of a model against its base, view by view (categories,
//!   languages), flagged where the difference's interval (Bonferroni over the views) is below 0.
//! * [`style`]: style control, the Bradley–Terry fit with the answers' length, headers, lists
//!   and bold as per-vote covariates ([`style::fit_style`]), with sandwich intervals and the
//!   style coefficients.
//! * [`active`]: the pairing policy's active sampling. For every unordered
//!   pair, how much one more vote on it is expected to shrink the
//!   leaderboard's uncertainty ([`active::pair_scores`]), mixed with a
//!   uniform floor into sampling probabilities
//!   ([`active::pair_probabilities`]); [`simulate::votes_to_target`]
//!   measures how many votes it saves.
//! * [`simulate()`](simulate::simulate): coverage and rank-correlation study on data
//!   drawn from known strengths; [`simulate::synthetic_arena`] builds the
//!   arena-sized benchmark case; [`baseline::mm_fit`] is the MM iteration the
//!   benchmarks compare against.
//! * [`rigging`]: each vote's probability under the ratings (its surprise score), a sequential
//!   test per voter with a proven false-positive bound ([`rigging::VoterEvidence`]), and the
//!   rigging simulation ([`rigging::sim::simulate_rigging`]).
//!
//! ```
//! use arena_ratings::{fit, CiMethod, Comparisons, FitOptions, PairCounts};
//!
//! let mut votes = Comparisons::new();
//! votes.add("alpha", "beta", PairCounts::new(30, 10, 5, 1))?;
//! votes.add("beta", "gamma", PairCounts::new(20, 15, 4, 0))?;
//! votes.add("gamma", "alpha", PairCounts::new(8, 25, 3, 2))?;
//! votes.register("newcomer");
//! let board = fit(&votes, &FitOptions { ci: CiMethod::Sandwich, ..FitOptions::default() })?;
//! assert_eq!(board.rows[0].model, "alpha");
//! assert_eq!(board.row("newcomer").unwrap().rating, None);
//! # Ok::<(), arena_ratings::RatingError>(())
//! ```

// Index loops over parallel arrays read better than zipped iterators in the
// numerical kernels.
#![allow(clippy::needless_range_loop)]

mod bayes;
mod bootstrap;
mod comparisons;
mod elo;
mod error;
mod fit;
mod graph;
mod linalg;
mod model;
mod sandwich;

pub mod active;
pub mod baseline;
pub mod correlation;
pub mod provisional;
pub mod regression;
pub mod rigging;
pub mod simulate;
pub mod style;

pub use bayes::{BayesOptions, BayesianRatings, GaussianPosterior, UpdateDiagnostics};
pub use comparisons::{Comparisons, Outcome, PairCounts, PairRecord};
pub use elo::{Battle, EloOptions, EloRating, online_elo};
pub use error::RatingError;
pub use fit::{
    BASE_RATING, CiMethod, ELO_PER_NATURAL_UNIT, FitDiagnostics, FitOptions, Leaderboard,
    RatingRow, fit,
};
pub use model::TieModel;
