//! Rigging detection: how surprising each vote is under the current ratings, and a sequential
//! test per voter whose false-positive rate is bounded.
//!
//! - **Surprise.** [`TiePrediction::probabilities`] gives P(a wins), P(b wins), P(tie) of a pair
//!   from its two Elo ratings under the tie model in use; the probability of the outcome a
//!   voter chose is the vote's surprise score (low = surprising).
//! - **Evidence.** [`VoterEvidence`] is a test martingale (an e-process): a mixture of
//!   likelihood ratios `q(o)/p(o)` of alternatives a rigging script would follow against the
//!   ratings' prediction `p`. Each ratio has expectation 1 under an honest voter whose votes
//!   follow the ratings, so the mixture does too, and by Ville's inequality the chance that an
//!   honest voter's evidence *ever* reaches `1/α` is at most `α`, however many votes they cast
//!   and however often it is checked. The alternatives:
//!   - *against the ratings*: outcomes tilted towards the unlikely ones, `q ∝ p^½`;
//!   - *one side*: `q = ½p + ½·[A wins]` (and the same for B): a script clicking one button;
//!   - *one model, for or against*: `q = ½p + ½·[m wins]` (or `[m loses]`) for every model `m`:
//!     a voter who recognises a model by its style and always votes for (or against) it.
//!
//!   Half of the mixture's weight goes to the three generic alternatives, half is spread over
//!   the `2K` model alternatives (`K` models in the arena), so a targeted rigger pays
//!   `ln 4K` of evidence for not naming its target in advance.

pub mod sim;

use crate::Outcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Probabilities below this are raised to it: one vote's ratio stays finite.
const FLOOR: f64 = 1e-6;
/// The weight of the observed outcome in the side and model alternatives.
const DELTA: f64 = 0.5;
/// The tilt of the against-the-ratings alternative (`q ∝ p^(1−λ)`).
const TILT: f64 = 0.5;

/// The predicted outcome of one battle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OutcomeProbabilities {
    pub win_a: f64,
    pub win_b: f64,
    /// A tie of either kind (tie or both bad).
    pub tie: f64,
}

impl OutcomeProbabilities {
    /// The probability of `outcome` (the vote's surprise score), at least [`FLOOR`].
    pub fn of(&self, outcome: Outcome) -> f64 {
        match outcome {
            Outcome::WinA => self.win_a,
            Outcome::WinB => self.win_b,
            Outcome::Tie | Outcome::BothBad => self.tie,
        }
        .max(FLOOR)
    }
}

/// How the ratings predict a tie.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ties", rename_all = "snake_case")]
pub enum TiePrediction {
    /// The half-win model: the expected score of `a` is `σ = 1/(1+10^((rb−ra)/400))`; a tie
    /// happens with probability `tie_rate·2·min(σ, 1−σ)` (most often between close models)
    /// and takes half of its mass from each side, so the expected score stays `σ`. The tie
    /// mass is bounded by `2·min(σ, 1−σ)`, so neither win is ever pushed below
    /// `(1 − tie_rate)·min(σ, 1−σ)`: the three probabilities are a distribution for every
    /// tie rate in [0, 1] and every gap (an earlier `4σ(1−σ)` shape was not, above a tie
    /// rate of ½, and scored one honest upset as a one-in-a-million event).
    Half { tie_rate: f64 },
    /// Davidson's model with its fitted `ν`: P(tie) = ν√(πaπb)/(πa + πb + ν√(πaπb)).
    Davidson { nu: f64 },
}

impl TiePrediction {
    /// The outcome probabilities of `a` against `b` from their Elo ratings.
    pub fn probabilities(&self, rating_a: f64, rating_b: f64) -> OutcomeProbabilities {
        let d = (rating_a - rating_b) / crate::ELO_PER_NATURAL_UNIT;
        match *self {
            TiePrediction::Half { tie_rate } => {
                let s = 1.0 / (1.0 + (-d).exp());
                let tie = tie_rate.clamp(0.0, 1.0) * tie_capacity(s);
                OutcomeProbabilities {
                    win_a: s - tie / 2.0,
                    win_b: (1.0 - s) - tie / 2.0,
                    tie,
                }
            }
            TiePrediction::Davidson { nu } => {
                // πa = e^(d/2), πb = e^(−d/2): √(πaπb) = 1.
                let (pa, pb) = ((d / 2.0).exp(), (-d / 2.0).exp());
                let z = pa + pb + nu;
                OutcomeProbabilities {
                    win_a: pa / z,
                    win_b: pb / z,
                    tie: nu / z,
                }
            }
        }
    }

    /// The outcome probabilities when the ratings are estimates: the difference's standard
    /// error `se_diff` (Elo) shrinks it towards an even pair by the probit approximation of
    /// the logistic-normal integral, `d / √(1 + π·var/8)`. Early in an arena, ratings fitted
    /// from a handful of votes are far apart by chance; scoring honest votes against them as if
    /// they were the truth flagged honest voters within 15 votes. The result is still a
    /// distribution (the same model at a smaller gap).
    pub fn probabilities_uncertain(
        &self,
        rating_a: f64,
        rating_b: f64,
        se_diff: f64,
    ) -> OutcomeProbabilities {
        let var = (se_diff.max(0.0) / crate::ELO_PER_NATURAL_UNIT).powi(2);
        let gap = (rating_a - rating_b) / (1.0 + std::f64::consts::PI * var / 8.0).sqrt();
        self.probabilities(gap, 0.0)
    }

    /// The half-win model's tie rate that matches the observed ties, `ties / Σ 2·min(σ, 1−σ)`
    /// over the votes (`pairs`: rating of a, rating of b, votes, ties of either kind), with
    /// Laplace's rule of succession, `(ties + 1) / (capacity + 2)`, at most 0.99. A young
    /// arena's first run may have no tie yet: a rate of exactly 0 scored every honest tie as
    /// a one-in-a-million event, and the per-process cache kept that prediction for its whole
    /// lifetime (`make chaos` once quarantined 11 of 16 honest volunteers so). With the rule,
    /// 0 ties in 12 votes predict 7 %, and 25 in 100 predict 25.5 %.
    pub fn half_from_ties(pairs: impl IntoIterator<Item = (f64, f64, u64, u64)>) -> Self {
        let (mut ties, mut capacity) = (0.0, 0.0);
        for (ra, rb, votes, t) in pairs {
            let s = 1.0 / (1.0 + (-(ra - rb) / crate::ELO_PER_NATURAL_UNIT).exp());
            capacity += votes as f64 * tie_capacity(s);
            ties += t as f64;
        }
        let tie_rate = ((ties + 1.0) / (capacity + 2.0)).clamp(0.0, 0.99);
        TiePrediction::Half { tie_rate }
    }

    /// Davidson's model with the fitted `ν`, raised where it is below what the same rule of
    /// succession allows after `votes` votes without a tie (`ν/(2+ν) = 1/(votes + 2)` for an
    /// even pair): a fit on a handful of votes without a tie puts `ν` at 0.
    pub fn davidson_from_fit(nu: f64, votes: u64) -> Self {
        let t0 = 1.0 / (votes as f64 + 2.0);
        let floor = 2.0 * t0 / (1.0 - t0);
        TiePrediction::Davidson {
            nu: if nu.is_finite() { nu.max(floor) } else { floor },
        }
    }
}

/// The spread of model strengths the vote path assumes before any vote (Elo): wider than the
/// boards of the reference arenas (LMArena's and the Latxa study's ratings have a standard
/// deviation near 100–150 around their mean).
pub const PRIOR_SD_ELO: f64 = 200.0;

/// A model with fewer votes in the run is not scored against (see [`predictive_ratings`]).
pub const MIN_VOTES_TO_SCORE: u64 = 20;

/// The ratings a run gives, as the vote path scores with them: `(rating, standard error,
/// votes)` per model (Elo; an unknown error as a large one) to `(rating, standard error)`.
///
/// A fit on a handful of votes is no prediction: nine votes over five models leave some never
/// beaten, the fit puts them 1,200 Elo apart, and its intervals (sandwich or ridge) are far too
/// narrow there. Two corrections, each exact in its own terms:
/// - the error is at least what `n` votes can tell: one comparison's Fisher information about
///   a rating is `σ(1−σ) ≤ ¼` (natural units), so no estimate from `n` votes is more precise
///   than `2/√n`;
/// - the rating is the posterior mean under a normal prior of [`PRIOR_SD_ELO`] around the
///   run's mean rating, and the error the posterior's.
///
/// Both only move the prediction towards an even pair, where every alternative of the
/// sequential test gains least from an honest voter; a model with hundreds of votes keeps its
/// rating within a few Elo.
pub fn predictive_ratings(fitted: &[(f64, f64, u64)]) -> Vec<Option<(f64, f64)>> {
    let center = if fitted.is_empty() {
        0.0
    } else {
        fitted.iter().map(|f| f.0).sum::<f64>() / fitted.len() as f64
    };
    let prior_precision = PRIOR_SD_ELO.powi(-2);
    fitted
        .iter()
        .map(|&(rating, se, votes)| {
            if votes < MIN_VOTES_TO_SCORE {
                return None;
            }
            let bound = 2.0 * crate::ELO_PER_NATURAL_UNIT / (votes.max(1) as f64).sqrt();
            let se = if se.is_finite() { se.max(bound) } else { 1e6 };
            let precision = se.powi(-2) + prior_precision;
            Some((
                (rating * se.powi(-2) + center * prior_precision) / precision,
                precision.sqrt().recip(),
            ))
        })
        .collect()
}

/// The most tie mass a pair with expected score `s` can carry while both wins stay
/// non-negative: `2·min(s, 1−s)` (1 for an even pair).
fn tie_capacity(s: f64) -> f64 {
    2.0 * s.min(1.0 - s)
}

/// How the sequential test decides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvidenceOptions {
    /// The false-positive rate the test guarantees for an honest voter (over all their votes).
    pub alpha: f64,
    /// Models in the arena (the model alternatives' share of the mixture is spread over them).
    pub models: usize,
}

impl Default for EvidenceOptions {
    fn default() -> Self {
        Self {
            alpha: 0.001,
            models: 20,
        }
    }
}

impl EvidenceOptions {
    /// `ln(1/α)`: the evidence (log e-value) at which a voter is flagged.
    pub fn threshold(&self) -> f64 {
        (1.0 / self.alpha.clamp(1e-300, 1.0)).ln()
    }
}

/// Which alternative carries a voter's evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pattern {
    /// Outcomes the ratings find unlikely, whichever models.
    AgainstRatings,
    /// Always the left (A) or right (B) answer.
    OneSide { side: char },
    /// For one model whenever it appears.
    ForModel { model: String },
    /// Against one model whenever it appears.
    AgainstModel { model: String },
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pattern::AgainstRatings => write!(f, "votes against the ratings"),
            Pattern::OneSide { side } => write!(f, "votes for side {side} regardless"),
            Pattern::ForModel { model } => write!(f, "votes for {model} whenever it appears"),
            Pattern::AgainstModel { model } => {
                write!(f, "votes against {model} whenever it appears")
            }
        }
    }
}

/// One voter's accumulated evidence: the log of each alternative's likelihood ratio so far.
/// Serialisable, so the server keeps it per voter and updates it vote by vote.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VoterEvidence {
    pub votes: u64,
    against: f64,
    side_a: f64,
    side_b: f64,
    /// Per model seen: (for it, against it).
    models: BTreeMap<String, (f64, f64)>,
}

/// `ln((1−δ) + δ·[hit]/p)`: one vote's ratio for an alternative that puts `δ` on one outcome.
fn point_ratio(hit: bool, p: f64) -> f64 {
    if hit {
        ((1.0 - DELTA) + DELTA / p.max(FLOOR)).ln()
    } else {
        (1.0 - DELTA).ln()
    }
}

impl VoterEvidence {
    /// Adds one counted vote: `model_a` against `model_b`, predicted `p`, decided `outcome`.
    pub fn observe(
        &mut self,
        model_a: &str,
        model_b: &str,
        p: OutcomeProbabilities,
        outcome: Outcome,
    ) {
        self.votes += 1;
        let probs = [p.win_a.max(FLOOR), p.win_b.max(FLOOR), p.tie.max(FLOOR)];
        let observed = p.of(outcome);
        let observed_index = match outcome {
            Outcome::WinA => 0,
            Outcome::WinB => 1,
            Outcome::Tie | Outcome::BothBad => 2,
        };
        // q ∝ p^(1−λ): ratio p^(−λ) / Σ p^(1−λ) (ties count only when the model has them, or
        // when one happened: q is then a distribution over the outcomes seen too).
        let norm: f64 = probs
            .iter()
            .zip([p.win_a, p.win_b, p.tie])
            .enumerate()
            .filter(|(i, (_, raw))| *raw > 0.0 || *i == observed_index)
            .map(|(_, (q, _))| q.powf(1.0 - TILT))
            .sum();
        self.against += -TILT * observed.ln() - norm.ln();
        let a_wins = outcome == Outcome::WinA;
        let b_wins = outcome == Outcome::WinB;
        self.side_a += point_ratio(a_wins, probs[0]);
        self.side_b += point_ratio(b_wins, probs[1]);
        let entry = self.models.entry(model_a.to_owned()).or_default();
        entry.0 += point_ratio(a_wins, probs[0]);
        entry.1 += point_ratio(b_wins, probs[1]);
        let entry = self.models.entry(model_b.to_owned()).or_default();
        entry.0 += point_ratio(b_wins, probs[1]);
        entry.1 += point_ratio(a_wins, probs[0]);
    }

    /// The weighted log ratios of every alternative, with the weight of the model alternatives
    /// not yet seen (their ratio is still 1).
    fn terms(&self, options: &EvidenceOptions) -> (Vec<(f64, Pattern)>, f64) {
        let generic = (1.0f64 / 6.0).ln();
        let k = options.models.max(self.models.len()).max(1) as f64;
        let per_model = 1.0 / (4.0 * k);
        let mut terms = vec![
            (generic + self.against, Pattern::AgainstRatings),
            (generic + self.side_a, Pattern::OneSide { side: 'A' }),
            (generic + self.side_b, Pattern::OneSide { side: 'B' }),
        ];
        for (model, (for_it, against_it)) in &self.models {
            terms.push((
                per_model.ln() + for_it,
                Pattern::ForModel {
                    model: model.clone(),
                },
            ));
            terms.push((
                per_model.ln() + against_it,
                Pattern::AgainstModel {
                    model: model.clone(),
                },
            ));
        }
        let unseen = (0.5 - 2.0 * per_model * self.models.len() as f64).max(0.0);
        (terms, unseen)
    }

    /// The log e-value: `ln Σ w·ratio` over the alternatives (0 before any vote).
    pub fn log_e_value(&self, options: &EvidenceOptions) -> f64 {
        let (terms, unseen) = self.terms(options);
        let max = terms.iter().map(|(t, _)| *t).fold(0.0f64, f64::max);
        let sum: f64 =
            terms.iter().map(|(t, _)| (t - max).exp()).sum::<f64>() + unseen * (-max).exp();
        max + sum.ln()
    }

    /// Whether the evidence reached `1/α`.
    pub fn flagged(&self, options: &EvidenceOptions) -> bool {
        self.log_e_value(options) >= options.threshold()
    }

    /// The alternative with the most evidence, for the moderation queue.
    pub fn strongest(&self, options: &EvidenceOptions) -> Pattern {
        let (terms, _) = self.terms(options);
        terms
            .into_iter()
            .max_by(|x, y| x.0.total_cmp(&y.0))
            .map_or(Pattern::AgainstRatings, |(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_sum_to_one_and_match_hand_values() {
        let half = TiePrediction::Half { tie_rate: 0.3 };
        // Equal ratings: σ = ½, P(tie) = 0.3, each win 0.35.
        let p = half.probabilities(1000.0, 1000.0);
        assert!((p.tie - 0.3).abs() < 1e-12 && (p.win_a - 0.35).abs() < 1e-12);
        // 400 Elo apart: σ = 10/11; P(tie) = 0.3·2·(1/11) = 0.6/11.
        let p = half.probabilities(1400.0, 1000.0);
        assert!((p.tie - 0.6 / 11.0).abs() < 1e-12);
        assert!((p.win_a - (10.0 / 11.0 - 0.3 / 11.0)).abs() < 1e-12);
        assert!((p.win_b - 0.7 / 11.0).abs() < 1e-12);
        assert!((p.win_a + p.win_b + p.tie - 1.0).abs() < 1e-12);
        let davidson = TiePrediction::Davidson { nu: 0.5 };
        let p = davidson.probabilities(1000.0, 1000.0);
        assert!((p.tie - 0.2).abs() < 1e-12 && (p.win_a - 0.4).abs() < 1e-12);
    }

    #[test]
    fn tie_rate_matches_observed_ties() {
        // Even pairs: 2·min(σ, 1−σ) = 1, so the rate is the tie share.
        let TiePrediction::Half { tie_rate } =
            TiePrediction::half_from_ties([(1000.0, 1000.0, 100, 25)])
        else {
            unreachable!()
        };
        assert!((tie_rate - 26.0 / 102.0).abs() < 1e-12);
    }

    /// A young arena's first run, 12 votes without a tie, scores the next votes of 16 honest
    /// volunteers (20 % ties, 20 votes each, even pairs, as many as one voter casts while a
    /// process caches a run) without flagging any of them; a tie
    /// rate of exactly 0 flagged most of them within a few ties.
    #[test]
    fn a_first_run_without_ties_does_not_flag_honest_ties() {
        use rand::{Rng, SeedableRng};
        let options = EvidenceOptions {
            alpha: 0.001,
            models: 5,
        };
        let prediction = TiePrediction::half_from_ties([(1000.0, 1000.0, 12, 0)]);
        let TiePrediction::Half { tie_rate } = prediction else {
            unreachable!()
        };
        assert!((tie_rate - 1.0 / 14.0).abs() < 1e-12, "{tie_rate}");
        let davidson = TiePrediction::davidson_from_fit(1e-9, 12);
        assert!((davidson.probabilities(1000.0, 1000.0).tie - 1.0 / 14.0).abs() < 1e-12);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for prediction in [prediction, davidson] {
            for _ in 0..16 {
                let mut e = VoterEvidence::default();
                for _ in 0..20 {
                    let u: f64 = rng.random();
                    let o = if u < 0.2 {
                        Outcome::Tie
                    } else if u < 0.6 {
                        Outcome::WinA
                    } else {
                        Outcome::WinB
                    };
                    e.observe("m0", "m1", prediction.probabilities(1000.0, 1000.0), o);
                }
                assert!(
                    !e.flagged(&options),
                    "{prediction:?}: log e-value {}",
                    e.log_e_value(&options)
                );
            }
        }
        // The evidence of a tie the prediction gave no chance is bounded by the floor.
        let mut e = VoterEvidence::default();
        let sure = TiePrediction::Half { tie_rate: 0.0 }.probabilities(1000.0, 1000.0);
        e.observe("m0", "m1", sure, Outcome::Tie);
        assert!(e.log_e_value(&options).is_finite());
    }

    #[test]
    fn expected_ratio_is_one_for_every_alternative() {
        // The martingale property, checked exactly: under p, E[exp(Δ log ratio)] = 1.
        let options = EvidenceOptions {
            alpha: 0.01,
            models: 2,
        };
        for (ra, rb) in [(1000.0, 1000.0), (1200.0, 950.0), (900.0, 1300.0)] {
            let p = TiePrediction::Half { tie_rate: 0.3 }.probabilities(ra, rb);
            let mut expected = 0.0;
            for (o, w) in [
                (Outcome::WinA, p.win_a),
                (Outcome::WinB, p.win_b),
                (Outcome::Tie, p.tie),
            ] {
                let mut e = VoterEvidence::default();
                e.observe("x", "y", p, o);
                expected += w * e.log_e_value(&options).exp();
            }
            assert!((expected - 1.0).abs() < 1e-9, "E[e-value] = {expected}");
        }
    }

    fn predictions(tie: f64) -> [TiePrediction; 2] {
        [
            TiePrediction::Half { tie_rate: tie },
            // Davidson's ν with the same tie share for an even pair: ν/(2+ν) = tie.
            TiePrediction::Davidson {
                nu: 2.0 * tie / (1.0 - tie),
            },
        ]
    }

    proptest::proptest! {
        /// Every tie rate in [0, 0.99], every gap up to ±1,000 Elo, both tie models: the three
        /// probabilities are a distribution, no outcome needs the floor, and one more vote
        /// leaves the voter's e-value a martingale (its expectation under the prediction is
        /// the e-value before it), whatever the voter did before.
        #[test]
        fn outcome_probabilities_are_a_distribution_and_the_evidence_a_martingale(
            tie in 0.0f64..=0.99,
            gap in -1000.0f64..=1000.0,
            history in proptest::collection::vec((0usize..4, 0usize..3, -1000.0f64..1000.0), 0..12),
        ) {
            let options = EvidenceOptions { alpha: 0.001, models: 4 };
            let names = ["m0", "m1", "m2", "m3"];
            for prediction in predictions(tie) {
                let p = prediction.probabilities(1000.0 + gap, 1000.0);
                proptest::prop_assert!((p.win_a + p.win_b + p.tie - 1.0).abs() < 1e-12, "{p:?}");
                proptest::prop_assert!(p.win_a >= FLOOR && p.win_b >= FLOOR, "{p:?}");
                proptest::prop_assert!(tie == 0.0 || p.tie >= FLOOR, "{p:?}");
                let mut before = VoterEvidence::default();
                for (m, o, g) in &history {
                    let q = prediction.probabilities(1000.0 + g, 1000.0);
                    let o = [Outcome::WinA, Outcome::WinB, Outcome::Tie][*o];
                    before.observe(names[*m], names[(m + 1) % 4], q, o);
                }
                let start = before.log_e_value(&options).exp();
                let mut expected = 0.0;
                for (o, w) in [(Outcome::WinA, p.win_a), (Outcome::WinB, p.win_b), (Outcome::Tie, p.tie)] {
                    let mut e = before.clone();
                    e.observe("m0", "m2", p, o);
                    expected += w * e.log_e_value(&options).exp();
                }
                proptest::prop_assert!(
                    (expected / start - 1.0).abs() < 1e-9,
                    "{prediction:?} gap {gap}: E[next] / now = {}", expected / start
                );
            }
        }
    }

    #[test]
    fn uncertain_ratings_predict_closer_outcomes() {
        let half = TiePrediction::Half { tie_rate: 0.2 };
        let sure = half.probabilities_uncertain(1200.0, 1000.0, 0.0);
        assert_eq!(sure, half.probabilities(1200.0, 1000.0));
        let unsure = half.probabilities_uncertain(1200.0, 1000.0, 300.0);
        assert!(
            unsure.win_b > sure.win_b && unsure.win_a < sure.win_a,
            "{unsure:?}"
        );
        assert!((unsure.win_a + unsure.win_b + unsure.tie - 1.0).abs() < 1e-12);
        // Hopelessly uncertain: nearly an even pair.
        let blind = half.probabilities_uncertain(1200.0, 1000.0, 1e5);
        assert!((blind.win_a - blind.win_b).abs() < 1e-2, "{blind:?}");
    }

    #[test]
    fn one_honest_upset_at_a_high_tie_rate_is_not_a_one_in_a_million_event() {
        // The case that quarantined an honest voter: tie rate 0.8, 100 Elo apart, the weaker
        // model wins once. Its probability is (1 − 0.8)·(1 − σ) ≈ 0.072, not the floor.
        let p = TiePrediction::Half { tie_rate: 0.8 }.probabilities(1100.0, 1000.0);
        let s = 1.0 / (1.0 + 10f64.powf(-0.25));
        assert!((p.win_b - 0.2 * (1.0 - s)).abs() < 1e-12, "{p:?}");
        let mut e = VoterEvidence::default();
        e.observe("strong", "weak", p, Outcome::WinB);
        assert!(!e.flagged(&EvidenceOptions::default()));
        assert!(e.log_e_value(&EvidenceOptions::default()) < 1.0);
    }

    #[test]
    fn a_voter_for_one_model_is_flagged_and_named() {
        let options = EvidenceOptions {
            alpha: 0.001,
            models: 20,
        };
        let prediction = TiePrediction::Half { tie_rate: 0.3 };
        let mut e = VoterEvidence::default();
        // The weak model wins every time it appears, on either side.
        for i in 0..30 {
            let (a, b, outcome) = if i % 2 == 0 {
                ("weak", "strong", Outcome::WinA)
            } else {
                ("strong", "weak", Outcome::WinB)
            };
            let (ra, rb) = if a == "weak" {
                (950.0, 1050.0)
            } else {
                (1050.0, 950.0)
            };
            e.observe(a, b, prediction.probabilities(ra, rb), outcome);
        }
        assert!(e.flagged(&options));
        assert_eq!(
            e.strongest(&options),
            Pattern::ForModel {
                model: "weak".into()
            }
        );
    }
}
