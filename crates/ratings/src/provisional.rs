//! Provisional models: who has too few votes to be ranked yet, and how many more it needs.
//!
//! The maximum-likelihood fit of a young arena is absurd (after three votes of A over B it is
//! infinite, and a ridge makes it 1418 against 582). The Bayesian view is not: a prior
//! (`prior_sd` Elo around the mean) updated by the votes ([`crate::BayesianRatings`], the
//! posterior of one batch the prior of the next) keeps a model with few votes near the field, with
//! a credible interval as wide as the evidence is thin.
//!
//! A model is **ranked** once it is measured to ±`ranked_half_width` Elo (95%): its posterior
//! precision given the other models (its own votes and the prior, the diagonal of the posterior
//! precision; the centred marginal interval would let one vague newcomer make the whole field
//! look uncertain). Until then it is **provisional**: shown with its posterior mean and credible
//! interval, and the votes it still needs, instead of a rank. The votes still needed come from
//! that precision: what a vote of this model has added so far on average, and what is still
//! missing. A model without votes gains a coin-flip vote's information (¼ per vote, natural
//! units).

use serde::{Deserialize, Serialize};

use crate::fit::{ELO_PER_NATURAL_UNIT, Z_95};
use crate::{BayesOptions, BayesianRatings, Comparisons, RatingError};

/// Options of [`standings`], in Elo points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProvisionalOptions {
    /// The prior's standard deviation of a model's rating around the field's mean.
    pub prior_sd: f64,
    /// A model is ranked once its 95% credible interval is at most ± this.
    pub ranked_half_width: f64,
}

impl Default for ProvisionalOptions {
    fn default() -> Self {
        Self {
            prior_sd: 200.0,
            ranked_half_width: 50.0,
        }
    }
}

/// One model's Bayesian standing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    pub model: String,
    /// Posterior mean (Elo scale, centred on 1000 over the models with votes).
    pub rating: f64,
    /// 95% credible interval.
    pub lower: f64,
    pub upper: f64,
    pub votes: u64,
    /// Too few votes to be ranked.
    pub provisional: bool,
    /// For a provisional model: about how many more of its votes make it ranked (≥ 1).
    pub votes_to_rank: Option<u64>,
}

/// Every registered model's standing (models without votes: at the prior, provisional).
pub fn standings(
    comparisons: &Comparisons,
    options: &ProvisionalOptions,
) -> Result<Vec<Standing>, RatingError> {
    if !(options.ranked_half_width > 0.0 && options.ranked_half_width.is_finite()) {
        return Err(RatingError::InvalidOption(
            "ranked_half_width must be > 0".into(),
        ));
    }
    let mut bayes = BayesianRatings::new(BayesOptions {
        prior_sd: options.prior_sd,
        ..BayesOptions::default()
    })?;
    let unit = Z_95 * ELO_PER_NATURAL_UNIT;
    let prior_half = Z_95 * options.prior_sd;
    let prior_precision = (unit / prior_half).powi(2);
    let target_precision = (unit / options.ranked_half_width).powi(2);
    // How well a model is measured: its posterior precision given the others (its own votes and
    // the prior), so that one vague newcomer does not make the whole field look uncertain (as
    // the centred marginal intervals would).
    let need = |precision: f64, votes: u64| -> Option<u64> {
        if precision >= target_precision {
            return None;
        }
        let gained = precision - prior_precision;
        let per_vote = if votes > 0 && gained > 0.0 {
            gained / votes as f64
        } else {
            0.25
        };
        Some((((target_precision - precision) / per_vote).ceil() as u64).max(1))
    };
    let at_prior = |m: &String| Standing {
        model: m.clone(),
        rating: crate::BASE_RATING,
        lower: crate::BASE_RATING - prior_half,
        upper: crate::BASE_RATING + prior_half,
        votes: 0,
        provisional: true,
        votes_to_rank: need(prior_precision, 0),
    };
    if comparisons.total_votes() == 0 {
        return Ok(comparisons.models().iter().map(at_prior).collect());
    }
    bayes.update(comparisons)?;
    let posterior = bayes.posterior();
    let n = posterior.models.len();
    let precision = |model: &str| -> f64 {
        posterior
            .models
            .iter()
            .position(|m| m == model)
            .map_or(prior_precision, |i| posterior.precision[i * n + i])
    };
    let board = bayes.leaderboard(None)?;
    Ok(board
        .rows
        .into_iter()
        .map(|row| match (row.rating, row.ci_lower, row.ci_upper) {
            (Some(rating), Some(lower), Some(upper)) => {
                let votes_to_rank = need(precision(&row.model), row.votes);
                Standing {
                    model: row.model,
                    rating,
                    lower,
                    upper,
                    votes: row.votes,
                    provisional: votes_to_rank.is_some(),
                    votes_to_rank,
                }
            }
            _ => at_prior(&row.model),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PairCounts;

    fn of<'a>(s: &'a [Standing], m: &str) -> &'a Standing {
        s.iter().find(|x| x.model == m).unwrap()
    }

    /// The case: three votes of A over B. The ML fit is infinite (a ridge made it 1418
    /// vs 582); the posterior stays near the field, both provisional, with the votes they need.
    #[test]
    fn three_votes_make_two_provisional_models_not_absurd_ratings() {
        let mut c = Comparisons::new();
        c.add("a", "b", PairCounts::new(3, 0, 0, 0)).unwrap();
        let s = standings(&c, &ProvisionalOptions::default()).unwrap();
        let (a, b) = (of(&s, "a"), of(&s, "b"));
        assert!(a.rating > 1000.0 && a.rating < 1150.0, "{a:?}");
        assert!((a.rating - 1000.0 + b.rating - 1000.0).abs() < 1e-6);
        assert!(a.provisional && b.provisional);
        assert!(a.lower < 1000.0 && a.upper > a.rating + 100.0, "{a:?}");
        // A coin-flip vote adds ¼ of precision: ±50 Elo (precision 46.3) takes about 180
        // votes; the lopsided votes carried a little less information each, so somewhat more.
        let need = a.votes_to_rank.unwrap();
        assert!((150..400).contains(&need), "{need}");
    }

    /// With as many votes as it said it needed, a model is ranked (the estimate is honest), and
    /// a model without votes stays provisional at the prior.
    #[test]
    fn the_votes_it_needs_are_about_the_votes_that_rank_it() {
        let mut few = Comparisons::new();
        few.add("a", "b", PairCounts::new(6, 4, 0, 0)).unwrap();
        few.register("idle");
        let s = standings(&few, &ProvisionalOptions::default()).unwrap();
        let need = of(&s, "a").votes_to_rank.unwrap();
        let idle = of(&s, "idle");
        assert!(idle.provisional && idle.votes == 0 && idle.rating == 1000.0);
        assert!(idle.votes_to_rank.unwrap() >= need);
        // An estimate: within 15% either way.
        let standing_after = |total: u64| {
            let mut c = Comparisons::new();
            let wins = total * 6 / 10;
            c.add("a", "b", PairCounts::new(wins, total - wins, 0, 0))
                .unwrap();
            let s = standings(&c, &ProvisionalOptions::default()).unwrap();
            of(&s, "a").clone()
        };
        let total = 10 + need;
        let enough = standing_after(total * 115 / 100);
        assert!(!enough.provisional, "{enough:?}");
        let short = standing_after(total * 85 / 100);
        assert!(short.provisional, "{short:?}");
    }

    /// With many votes the posterior is the data's: close to the ML fit, and ranked.
    #[test]
    fn many_votes_rank_every_model_near_the_maximum_likelihood_fit() {
        let mut c = Comparisons::new();
        c.add("a", "b", PairCounts::new(700, 300, 50, 10)).unwrap();
        c.add("b", "c", PairCounts::new(600, 400, 40, 0)).unwrap();
        c.add("a", "c", PairCounts::new(800, 200, 20, 5)).unwrap();
        let s = standings(&c, &ProvisionalOptions::default()).unwrap();
        let ml = crate::fit(&c, &crate::FitOptions::default()).unwrap();
        for st in &s {
            assert!(!st.provisional && st.votes_to_rank.is_none());
            let r = ml.row(&st.model).unwrap().rating.unwrap();
            assert!(
                (st.rating - r).abs() < 3.0,
                "{}: {} vs {r}",
                st.model,
                st.rating
            );
        }
    }

    #[test]
    fn no_votes_at_all_is_every_model_at_the_prior() {
        let mut c = Comparisons::new();
        c.register("x");
        c.register("y");
        let s = standings(&c, &ProvisionalOptions::default()).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|x| x.provisional && x.rating == 1000.0));
        assert!(
            standings(
                &c,
                &ProvisionalOptions {
                    ranked_half_width: 0.0,
                    ..Default::default()
                }
            )
            .is_err()
        );
    }

    /// One vague newcomer leaves the well-measured field ranked.
    #[test]
    fn a_newcomer_does_not_unrank_the_field() {
        let mut c = Comparisons::new();
        c.add("a", "b", PairCounts::new(900, 600, 50, 0)).unwrap();
        c.add("b", "c", PairCounts::new(950, 550, 40, 0)).unwrap();
        c.add("a", "c", PairCounts::new(1000, 500, 30, 0)).unwrap();
        c.add("new", "a", PairCounts::new(4, 0, 0, 0)).unwrap();
        let s = standings(&c, &ProvisionalOptions::default()).unwrap();
        for m in ["a", "b", "c"] {
            assert!(!of(&s, m).provisional, "{:?}", of(&s, m));
        }
        assert!(of(&s, "new").provisional);
    }
}
