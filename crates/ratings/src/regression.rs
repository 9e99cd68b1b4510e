//! Version regressions: is a new version of a model (a fine-tune of a base model, say) worse
//! than the model it replaces in some view of the votes (a category, a language)?
//!
//! In each view the two are rated in the same Bradley–Terry fit (ties as half wins) with every
//! other model, and the difference `new − base` gets its sandwich interval from the fit's full
//! covariance (`Var(θn − θb) = Var θn + Var θb − 2 Cov`, not the sum of two separate intervals).
//! A view is **flagged** when the interval lies wholly below zero. Several views are tested at
//! once, so each interval is at level `1 − α/m` (Bonferroni over the `m` views that could be
//! fitted): the chance that a new version that is no worse anywhere gets flagged somewhere is at
//! most `α`.

use serde::{Deserialize, Serialize};

use crate::fit::{ELO_PER_NATURAL_UNIT, initial_point, prepare};
use crate::model::{self, Penalty, TieModel};
use crate::sandwich::sandwich_covariance;
use crate::{Comparisons, RatingError};

/// The difference of two models' ratings in one fit, with an interval at `level`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// `rating(a) − rating(b)`, Elo points.
    pub elo: f64,
    pub lower: f64,
    pub upper: f64,
}

/// `a − b` in the maximum-likelihood fit of `comparisons` (ties as half wins; `ridge` 0 for the
/// plain MLE), with its sandwich interval at `level` (e.g. 0.95).
pub fn rating_difference(
    comparisons: &Comparisons,
    a: &str,
    b: &str,
    level: f64,
    ridge: f64,
) -> Result<Difference, RatingError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(RatingError::InvalidOption(
            "level must be between 0 and 1".into(),
        ));
    }
    let prep = prepare(comparisons);
    let p = &prep.problem;
    let position = |m: &str| {
        comparisons
            .index_of(m)
            .and_then(|idx| prep.rated.iter().position(|&r| r == idx))
            .ok_or_else(|| RatingError::UnknownAnchor {
                model: m.to_owned(),
            })
    };
    let (ia, ib) = (position(a)?, position(b)?);
    if ridge == 0.0 {
        if crate::graph::components(p).len() > 1 {
            return Err(RatingError::Disconnected {
                components: Vec::new(),
            });
        }
        if crate::graph::infinite_groups(p).is_some() {
            return Err(RatingError::NoFiniteMle {
                never_lost: Vec::new(),
                never_won: Vec::new(),
            });
        }
    }
    let sol = model::newton(
        p,
        TieModel::Half,
        &Penalty::ridge(ridge),
        &initial_point(p, TieModel::Half),
        1e-10,
        100,
    );
    if !sol.gradient_norm.is_finite()
        || sol.gradient_norm > 1e-6 * (comparisons.total_votes() as f64).max(1.0)
    {
        return Err(RatingError::NotConverged {
            iterations: sol.iterations,
            gradient_norm: sol.gradient_norm,
        });
    }
    let cov = sandwich_covariance(p, TieModel::Half, &sol, ridge);
    let var = cov.get(ia, ia) + cov.get(ib, ib) - 2.0 * cov.get(ia, ib);
    let elo = ELO_PER_NATURAL_UNIT * (sol.x[ia] - sol.x[ib]);
    let h = normal_quantile(0.5 + level / 2.0) * ELO_PER_NATURAL_UNIT * var.max(0.0).sqrt();
    Ok(Difference {
        elo,
        lower: elo - h,
        upper: elo + h,
    })
}

/// One view's comparison of the new version against its base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewComparison {
    pub view: String,
    pub votes_new: u64,
    pub votes_base: u64,
    /// `None`: this view could not be fitted (too few votes, or no finite ratings), with why.
    pub difference: Option<Difference>,
    pub unavailable: Option<String>,
    /// The difference's interval lies wholly below zero.
    pub flagged: bool,
}

/// Compares `new` against `base` in every view (a label and its votes), each interval at the
/// Bonferroni level `1 − α/m` (`m`: the views where both have votes).
pub fn compare_versions(
    views: &[(String, Comparisons)],
    new: &str,
    base: &str,
    alpha: f64,
) -> Result<Vec<ViewComparison>, RatingError> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(RatingError::InvalidOption(
            "alpha must be between 0 and 1".into(),
        ));
    }
    let testable = views
        .iter()
        .filter(|(_, c)| c.votes(new) > 0 && c.votes(base) > 0)
        .count()
        .max(1);
    let level = 1.0 - alpha / testable as f64;
    Ok(views
        .iter()
        .map(|(view, c)| {
            let (votes_new, votes_base) = (c.votes(new), c.votes(base));
            let result = if votes_new == 0 || votes_base == 0 {
                Err("no votes for one of the two in this view".to_owned())
            } else {
                rating_difference(c, new, base, level, 0.0).map_err(|e| e.to_string())
            };
            let flagged = result.as_ref().is_ok_and(|d| d.upper < 0.0);
            ViewComparison {
                view: view.clone(),
                votes_new,
                votes_base,
                flagged,
                unavailable: result.as_ref().err().cloned(),
                difference: result.ok(),
            }
        })
        .collect())
}

/// The standard normal quantile (Acklam's rational approximation, refined by one Halley step:
/// about 1e-15 relative error).
pub fn normal_quantile(p: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0, "quantile of {p}");
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let low = 0.024_25;
    let x = if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // One Halley step on Φ(x) − p.
    let e = 0.5 * erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// The complementary error function (W. J. Cody's rational approximations via `erfc = 1 − erf`
/// would do; this is the Numerical Recipes Chebyshev fit, relative error < 1.2e-7, which the
/// Halley step above only needs roughly).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PairCounts;
    use rand::{Rng, SeedableRng};

    #[test]
    fn normal_quantiles() {
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-6);
        assert!((normal_quantile(0.5)).abs() < 1e-6);
        assert!((normal_quantile(0.001) + 3.090_232_306_167_813).abs() < 1e-6);
    }

    /// Three views (say "coding", "math", "eu") of votes among base, new and two others drawn
    /// from strengths; `drop`: how much weaker new is than base in the last view only (natural
    /// units).
    fn views(drop: f64, votes: usize, rng: &mut impl Rng) -> Vec<(String, Comparisons)> {
        ["coding", "math", "eu"]
            .iter()
            .enumerate()
            .map(|(v, name)| {
                let strength = |m: usize| match m {
                    0 => 0.0,             // base
                    1 if v == 2 => -drop, // new, in the last view
                    1 => 0.0,             // new elsewhere
                    2 => 0.4,
                    _ => -0.4,
                };
                let names = ["base", "new", "strong", "weak"];
                let mut c = Comparisons::new();
                for _ in 0..votes {
                    let a = rng.random_range(0..4);
                    let b = (a + rng.random_range(1..4)) % 4;
                    let p = 1.0 / (1.0 + (strength(b) - strength(a)).exp());
                    let u: f64 = rng.random();
                    let counts = if u < 0.1 {
                        PairCounts::new(0, 0, 1, 0)
                    } else if rng.random::<f64>() < p {
                        PairCounts::new(1, 0, 0, 0)
                    } else {
                        PairCounts::new(0, 1, 0, 0)
                    };
                    c.add(names[a], names[b], counts).unwrap();
                }
                (name.to_string(), c)
            })
            .collect()
    }

    /// A planted drop of 0.8 natural units (139 Elo) in one view is flagged there, and nowhere
    /// else.
    #[test]
    fn a_planted_drop_is_flagged_in_its_view() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let result = compare_versions(&views(0.8, 3000, &mut rng), "new", "base", 0.05).unwrap();
        let flagged: Vec<&str> = result
            .iter()
            .filter(|r| r.flagged)
            .map(|r| r.view.as_str())
            .collect();
        assert_eq!(flagged, ["eu"], "{result:?}");
        let eu = &result[2].difference.as_ref().unwrap();
        assert!((eu.elo + 139.0).abs() < 40.0, "{eu:?}");
    }

    /// With no drop anywhere, the family-wise flag rate over many simulated arenas stays at or
    /// below α (here 0.1 over 200 arenas: at most 20 expected; 32 would be 3 standard deviations
    /// above).
    #[test]
    fn noise_is_not_flagged_beyond_the_configured_level() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(17);
        let arenas = 200;
        let flagged = (0..arenas)
            .filter(|_| {
                compare_versions(&views(0.0, 600, &mut rng), "new", "base", 0.1)
                    .unwrap()
                    .iter()
                    .any(|r| r.flagged)
            })
            .count();
        assert!(flagged <= 32, "{flagged} of {arenas} arenas flagged");
    }

    /// A view where one of the two has no votes cannot say anything: not flagged, and why.
    #[test]
    fn a_view_without_votes_for_one_is_unavailable_not_flagged() {
        let mut c = Comparisons::new();
        c.add("base", "other", PairCounts::new(10, 5, 1, 0))
            .unwrap();
        c.register("new");
        let r = compare_versions(&[("all".into(), c)], "new", "base", 0.05).unwrap();
        assert!(!r[0].flagged && r[0].difference.is_none());
        assert!(r[0].unavailable.is_some());
    }
}
