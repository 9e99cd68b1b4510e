//! The rigging simulation (`arena-ratings simulate --riggers R --rig-votes V --strategy S`):
//! synthetic traffic where honest voters follow a Bradley–Terry truth with realistic ties and
//! riggers push one target model, scored as the arena scores it (each vote against the latest
//! fit, refitted every `refit_every` counted votes), with and without the defences.
//!
//! - **Honest voters** cast a heavy-tailed number of votes (most a few, some hundreds), each on
//!   a uniformly drawn pair, with the outcome drawn from the truth under one of three tie
//!   models ([`HonestTies`]), so that the detector (which always fits the half-win model's tie
//!   rate to the counted votes, as the arena does) meets honest data it did not generate.
//! - **Riggers** (`target`/`anti-target`) skip battles without the target and vote for (or
//!   against) it, recognising its side with probability `recognition` (otherwise they pick the
//!   wrong side); `random` riggers vote A or B at random on any battle.
//! - **Defences**: a voter whose evidence crosses `1/α` is quarantined (all their votes leave
//!   the counts, as in the arena), and each voter counts at most `cap_per_pair` votes per
//!   pair (the simulated traffic is one day).

use super::{EvidenceOptions, TiePrediction, VoterEvidence};
use crate::bootstrap::round_rng;
use crate::fit::fit;
use crate::simulate::model_name;
use crate::{Comparisons, FitOptions, Outcome, PairCounts, RatingError};
use rand::Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How honest voters tie (`tie_rate` is the tie probability of an even pair under each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HonestTies {
    /// The detector's own model: `tie_rate·2·min(σ, 1−σ)`, half of it from each side.
    #[default]
    Half,
    /// Davidson's: P(tie) = ν/(e^(d/2) + e^(−d/2) + ν) with `ν = 2·tie_rate/(1 − tie_rate)`.
    Davidson,
    /// Ties at `tie_rate` whatever the gap (people who find both answers bad as often for any
    /// pair), the decisive votes split by σ.
    Constant,
}

/// What riggers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Vote for the target (a model ranked in the bottom third) whenever it appears.
    Target,
    /// Vote against the target (a model ranked in the top third) whenever it appears.
    AntiTarget,
    /// Vote A or B at random, without reading.
    Random,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiggingConfig {
    pub models: usize,
    /// Elo points.
    pub strength_sd: f64,
    pub tie_rate: f64,
    /// The honest voters' tie model.
    #[serde(default)]
    pub honest_ties: HonestTies,
    pub honest_voters: usize,
    /// Honest votes before the riggers arrive (the ratings the first scores use).
    pub warmup_votes: u64,
    pub riggers: usize,
    pub rig_votes: u64,
    pub strategy: Strategy,
    /// Probability that a rigger puts its vote on the target's true side.
    pub recognition: f64,
    pub alpha: f64,
    pub cap_per_pair: u64,
    pub refit_every: u64,
    pub replicates: usize,
    pub seed: u64,
}

impl Default for RiggingConfig {
    fn default() -> Self {
        Self {
            models: 20,
            strength_sd: 100.0,
            tie_rate: 0.3,
            honest_ties: HonestTies::Half,
            honest_voters: 2000,
            warmup_votes: 20_000,
            riggers: 20,
            rig_votes: 100,
            strategy: Strategy::Target,
            recognition: 0.9,
            alpha: 0.001,
            cap_per_pair: 20,
            refit_every: 2000,
            replicates: 20,
            seed: 1,
        }
    }
}

impl RiggingConfig {
    pub fn validate(&self) -> Result<(), RatingError> {
        let bad = |m: &str| Err(RatingError::InvalidOption(m.to_owned()));
        if self.models < 3 {
            return bad("at least 3 models");
        }
        if !(0.0..1.0).contains(&self.tie_rate) {
            return bad("tie rate in [0, 1)");
        }
        if !(0.0..=1.0).contains(&self.recognition) {
            return bad("recognition in [0, 1]");
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return bad("alpha in (0, 1)");
        }
        if self.honest_voters == 0 || self.replicates == 0 || self.refit_every == 0 {
            return bad("honest voters, replicates and refit interval must be positive");
        }
        if self.cap_per_pair == 0 {
            return bad("the cap per pair must be at least 1");
        }
        Ok(())
    }
}

/// One replicate's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiggingReplicate {
    pub target: String,
    /// The target's rank (1 = best) and rating on honest votes only.
    pub honest_rank: usize,
    pub honest_rating: f64,
    pub undefended_rank: usize,
    pub undefended_rating: f64,
    pub defended_rank: usize,
    pub defended_rating: f64,
    pub riggers_with_100: usize,
    pub riggers_with_100_flagged: usize,
    pub riggers_flagged: usize,
    pub honest_flagged: usize,
    /// Honest voters with at least 100 votes, and how many of them were flagged.
    pub heavy_honest: usize,
    pub heavy_honest_flagged: usize,
    /// Counted votes of riggers, after the defences.
    pub rig_votes_counted: u64,
}

/// The study: every replicate and the averages the goals are stated in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiggingReport {
    pub config: RiggingConfig,
    pub replicates: Vec<RiggingReplicate>,
    /// Mean rating shift of the target against honest-only votes (Elo), without and with the
    /// defences, and the share of the shift the defences remove.
    pub shift_undefended: f64,
    pub shift_defended: f64,
    pub shift_cut: f64,
    pub mean_rank_honest: f64,
    pub mean_rank_undefended: f64,
    pub mean_rank_defended: f64,
    /// Share of riggers with ≥ 100 votes flagged; of all riggers; of honest voters; of honest
    /// voters with ≥ 100 votes.
    pub riggers_flagged: f64,
    pub riggers_flagged_all: f64,
    pub honest_flagged: f64,
    pub heavy_honest_flagged: f64,
}

struct Vote {
    voter: usize,
    a: usize,
    b: usize,
    outcome: Outcome,
}

fn rank_and_rating(board: &crate::Leaderboard, model: &str) -> (usize, f64) {
    let rating = board.rating(model).unwrap_or(f64::NAN);
    let rank = 1 + board
        .rows
        .iter()
        .filter(|r| r.rating.is_some_and(|x| x > rating))
        .count();
    (rank, rating)
}

fn fit_votes<'a>(
    models: &[String],
    votes: impl Iterator<Item = &'a Vote>,
) -> Result<crate::Leaderboard, RatingError> {
    let mut c = Comparisons::new();
    for m in models {
        c.register(m);
    }
    for v in votes {
        c.add(&models[v.a], &models[v.b], PairCounts::of(v.outcome))?;
    }
    // As the arena's default run fits: the exact maximum-likelihood ratings with sandwich
    // intervals, or, where they do not exist (early on, a model that never lost), a ridge of
    // 0.01 (the arena's `FALLBACK_RIDGE`), whose ratings can be far apart by chance.
    let exact = FitOptions {
        ci: crate::CiMethod::Sandwich,
        ..FitOptions::default()
    };
    fit(&c, &exact).or_else(|_| {
        fit(
            &c,
            &FitOptions {
                ridge: 0.01,
                ..exact
            },
        )
    })
}

/// Every model's rating and standard error (Elo) in a fit, as the arena's predictor reads
/// them: the 95 % interval's error (none: hopelessly uncertain) and the votes, through
/// [`super::predictive_ratings`]; an unrated model as hopelessly uncertain.
fn scoring_ratings(board: &crate::Leaderboard, models: &[String]) -> Vec<Option<(f64, f64)>> {
    let rated: Vec<(usize, (f64, f64, u64))> = models
        .iter()
        .enumerate()
        .filter_map(|(m, name)| {
            let row = board.row(name)?;
            let se = match (row.ci_lower, row.ci_upper) {
                (Some(lo), Some(hi)) if (hi - lo).is_finite() => (hi - lo) / (2.0 * 1.96),
                _ => 1000.0,
            };
            Some((m, (row.rating?, se, row.votes)))
        })
        .collect();
    let fitted: Vec<(f64, f64, u64)> = rated.iter().map(|r| r.1).collect();
    let mut out = vec![None; models.len()];
    for ((m, _), scored) in rated.iter().zip(super::predictive_ratings(&fitted)) {
        out[*m] = scored;
    }
    out
}

/// One honest outcome of `a` against `b` (strengths in natural units).
fn draw_outcome(
    theta_a: f64,
    theta_b: f64,
    tie_rate: f64,
    ties: HonestTies,
    rng: &mut impl Rng,
) -> Outcome {
    let d = theta_a - theta_b;
    let s = 1.0 / (1.0 + (-d).exp());
    let (tie, win_a) = match ties {
        HonestTies::Half => {
            let tie = tie_rate * 2.0 * s.min(1.0 - s);
            (tie, s - tie / 2.0)
        }
        HonestTies::Davidson => {
            let nu = 2.0 * tie_rate / (1.0 - tie_rate);
            let (pa, pb) = ((d / 2.0).exp(), (-d / 2.0).exp());
            (nu / (pa + pb + nu), pa / (pa + pb + nu))
        }
        HonestTies::Constant => (tie_rate, (1.0 - tie_rate) * s),
    };
    let u: f64 = rng.random();
    if u < tie {
        Outcome::Tie
    } else if u < tie + win_a {
        Outcome::WinA
    } else {
        Outcome::WinB
    }
}

/// The detector's tie model, as the arena fits it: the half-win tie rate that matches the
/// ties among the votes the board was fitted on, at the board's ratings.
fn fitted_prediction<'a>(
    board: &crate::Leaderboard,
    models: &[String],
    votes: impl Iterator<Item = &'a Vote>,
) -> TiePrediction {
    let mut pairs: HashMap<(usize, usize), (u64, u64)> = HashMap::new();
    for v in votes {
        let e = pairs.entry((v.a, v.b)).or_default();
        e.0 += 1;
        e.1 += u64::from(matches!(v.outcome, Outcome::Tie | Outcome::BothBad));
    }
    let rating = |m: usize| board.rating(&models[m]).unwrap_or(1000.0);
    TiePrediction::half_from_ties(
        pairs
            .into_iter()
            .map(|((a, b), (n, t))| (rating(a), rating(b), n, t)),
    )
}

fn replicate(config: &RiggingConfig, index: usize) -> Result<RiggingReplicate, RatingError> {
    let mut rng = round_rng(config.seed, index as u64);
    let k = config.models;
    let models: Vec<String> = (0..k).map(model_name).collect();
    let normal = Normal::new(0.0, config.strength_sd / crate::ELO_PER_NATURAL_UNIT)
        .map_err(|e| RatingError::InvalidOption(e.to_string()))?;
    let theta: Vec<f64> = (0..k).map(|_| normal.sample(&mut rng)).collect();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|x, y| theta[*y].total_cmp(&theta[*x]));
    let target = match config.strategy {
        Strategy::AntiTarget => order[k / 5],
        _ => order[k * 7 / 10],
    };
    let pair = |rng: &mut rand_chacha::ChaCha8Rng| {
        let a = rng.random_range(0..k);
        let mut b = rng.random_range(0..k - 1);
        if b >= a {
            b += 1;
        }
        (a, b)
    };
    // Voters 0..H are honest, H..H+R riggers. Honest votes per voter: heavy-tailed (a
    // discretised Pareto, mean about 10, a few in the hundreds).
    let honest = config.honest_voters;
    let mut slots: Vec<usize> = Vec::new();
    for voter in 0..honest {
        let u: f64 = rng.random::<f64>().max(1e-12);
        let n = ((3.0 / u.powf(1.0 / 1.6)) as u64).min(2000);
        slots.extend(std::iter::repeat_n(voter, n as usize));
    }
    for r in 0..config.riggers {
        slots.extend(std::iter::repeat_n(honest + r, config.rig_votes as usize));
    }
    // Interleave everyone's votes in time.
    for i in (1..slots.len()).rev() {
        let j = rng.random_range(0..=i);
        slots.swap(i, j);
    }
    let warmup: Vec<Vote> = (0..config.warmup_votes)
        .map(|_| {
            let (a, b) = pair(&mut rng);
            Vote {
                voter: usize::MAX,
                a,
                b,
                outcome: draw_outcome(
                    theta[a],
                    theta[b],
                    config.tie_rate,
                    config.honest_ties,
                    &mut rng,
                ),
            }
        })
        .collect();
    let options = EvidenceOptions {
        alpha: config.alpha,
        models: k,
    };
    let voters = honest + config.riggers;
    let mut evidence = vec![VoterEvidence::default(); voters];
    let mut flagged = vec![false; voters];
    let mut per_pair: HashMap<(usize, usize, usize), u64> = HashMap::new();
    let mut votes: Vec<Vote> = Vec::with_capacity(slots.len());
    let mut counted: Vec<bool> = Vec::with_capacity(slots.len());
    let mut board = fit_votes(&models, warmup.iter())?;
    let mut prediction = fitted_prediction(&board, &models, warmup.iter());
    let mut scoring = scoring_ratings(&board, &models);
    let mut since_fit = 0u64;
    for voter in slots {
        let rigger = voter >= honest;
        let side = |a_wins: bool| if a_wins { Outcome::WinA } else { Outcome::WinB };
        let (a, b, outcome) = if !rigger {
            let (a, b) = pair(&mut rng);
            (
                a,
                b,
                draw_outcome(
                    theta[a],
                    theta[b],
                    config.tie_rate,
                    config.honest_ties,
                    &mut rng,
                ),
            )
        } else if config.strategy == Strategy::Random {
            let (a, b) = pair(&mut rng);
            (a, b, side(rng.random::<bool>()))
        } else {
            // Battles without the target are skipped: draw until it is there.
            let (a, b) = loop {
                let (a, b) = pair(&mut rng);
                if a == target || b == target {
                    break (a, b);
                }
            };
            let target_is_a = a == target;
            let seen_as_a = if rng.random::<f64>() < config.recognition {
                target_is_a
            } else {
                !target_is_a
            };
            (
                a,
                b,
                side(seen_as_a == (config.strategy == Strategy::Target)),
            )
        };
        let vote = Vote {
            voter,
            a,
            b,
            outcome,
        };
        // Score against the latest fit (its ratings and its fitted tie rate).
        let p = match (scoring[vote.a], scoring[vote.b]) {
            (Some((ra, sa)), Some((rb, sb))) => {
                Some(prediction.probabilities_uncertain(ra, rb, (sa * sa + sb * sb).sqrt()))
            }
            _ => None,
        };
        let key = (voter, vote.a.min(vote.b), vote.a.max(vote.b));
        let n = per_pair.entry(key).or_default();
        *n += 1;
        let within_cap = *n <= config.cap_per_pair;
        if let (true, false, Some(p)) = (within_cap, flagged[voter], p) {
            evidence[voter].observe(&models[vote.a], &models[vote.b], p, vote.outcome);
            if evidence[voter].flagged(&options) {
                flagged[voter] = true;
            }
        }
        counted.push(within_cap);
        votes.push(vote);
        since_fit += 1;
        if since_fit >= config.refit_every {
            since_fit = 0;
            let live = || {
                votes
                    .iter()
                    .zip(&counted)
                    .filter(|(v, c)| **c && !flagged[v.voter])
                    .map(|(v, _)| v)
            };
            board = fit_votes(&models, warmup.iter().chain(live()))?;
            prediction = fitted_prediction(&board, &models, warmup.iter().chain(live()));
            scoring = scoring_ratings(&board, &models);
        }
    }
    let target_name = &models[target];
    let honest_board = fit_votes(
        &models,
        warmup
            .iter()
            .chain(votes.iter().filter(|v| v.voter < honest)),
    )?;
    let undefended = fit_votes(&models, warmup.iter().chain(votes.iter()))?;
    let defended_votes = || {
        votes
            .iter()
            .zip(&counted)
            .filter(|(v, c)| **c && !flagged[v.voter])
            .map(|(v, _)| v)
    };
    let defended = fit_votes(&models, warmup.iter().chain(defended_votes()))?;
    let (honest_rank, honest_rating) = rank_and_rating(&honest_board, target_name);
    let (undefended_rank, undefended_rating) = rank_and_rating(&undefended, target_name);
    let (defended_rank, defended_rating) = rank_and_rating(&defended, target_name);
    let mut honest_votes = vec![0u64; honest];
    for v in votes.iter().filter(|v| v.voter < honest) {
        honest_votes[v.voter] += 1;
    }
    let heavy: Vec<usize> = (0..honest).filter(|&h| honest_votes[h] >= 100).collect();
    let riggers_with_100 = if config.rig_votes >= 100 {
        config.riggers
    } else {
        0
    };
    let riggers_flagged = (honest..voters).filter(|&r| flagged[r]).count();
    Ok(RiggingReplicate {
        target: target_name.clone(),
        honest_rank,
        honest_rating,
        undefended_rank,
        undefended_rating,
        defended_rank,
        defended_rating,
        riggers_with_100,
        riggers_with_100_flagged: if riggers_with_100 > 0 {
            riggers_flagged
        } else {
            0
        },
        riggers_flagged,
        honest_flagged: (0..honest).filter(|&h| flagged[h]).count(),
        heavy_honest: heavy.len(),
        heavy_honest_flagged: heavy.iter().filter(|&&h| flagged[h]).count(),
        rig_votes_counted: defended_votes().filter(|v| v.voter >= honest).count() as u64,
    })
}

/// Runs the study (replicates in parallel, deterministic for a seed).
pub fn simulate_rigging(config: &RiggingConfig) -> Result<RiggingReport, RatingError> {
    config.validate()?;
    let replicates: Vec<RiggingReplicate> = (0..config.replicates)
        .into_par_iter()
        .map(|i| replicate(config, i))
        .collect::<Result<_, _>>()?;
    let n = replicates.len() as f64;
    let mean = |f: &dyn Fn(&RiggingReplicate) -> f64| replicates.iter().map(f).sum::<f64>() / n;
    let shift_undefended = mean(&|r| r.undefended_rating - r.honest_rating);
    let shift_defended = mean(&|r| r.defended_rating - r.honest_rating);
    let share = |num: usize, den: usize| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    let sum = |f: &dyn Fn(&RiggingReplicate) -> usize| replicates.iter().map(f).sum::<usize>();
    Ok(RiggingReport {
        shift_cut: if shift_undefended.abs() > 0.0 {
            1.0 - shift_defended.abs() / shift_undefended.abs()
        } else {
            0.0
        },
        shift_undefended,
        shift_defended,
        mean_rank_honest: mean(&|r| r.honest_rank as f64),
        mean_rank_undefended: mean(&|r| r.undefended_rank as f64),
        mean_rank_defended: mean(&|r| r.defended_rank as f64),
        riggers_flagged: share(
            sum(&|r| r.riggers_with_100_flagged),
            sum(&|r| r.riggers_with_100),
        ),
        riggers_flagged_all: share(
            sum(&|r| r.riggers_flagged),
            config.riggers * replicates.len(),
        ),
        honest_flagged: share(
            sum(&|r| r.honest_flagged),
            config.honest_voters * replicates.len(),
        ),
        heavy_honest_flagged: share(sum(&|r| r.heavy_honest_flagged), sum(&|r| r.heavy_honest)),
        config: config.clone(),
        replicates,
    })
}

#[cfg(test)]
mod tests;
