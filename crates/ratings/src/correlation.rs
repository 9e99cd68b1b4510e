//! Rank correlations between the arena's ratings and a static benchmark's scores (Belebele,
//! XStoryCloze, MMLU, …): Spearman's ρ (Pearson on average ranks, so ties are handled) and
//! Kendall's τ-b, each with a percentile bootstrap interval over the models (resampled with
//! replacement, deterministic for a seed).

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// A correlation with its bootstrap 95% interval (`None` when too few distinct resamples).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    pub estimate: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

/// Both correlations of `x` and `y` (paired; at least 3 pairs and neither constant, else `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankAgreement {
    pub pairs: usize,
    pub spearman: Correlation,
    pub kendall: Correlation,
}

/// Spearman's ρ ([`crate::simulate::spearman`]: Pearson on average ranks, so ties are handled);
/// `None` when undefined (fewer than 2 pairs, or a constant variable).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    Some(crate::simulate::spearman(x, y)).filter(|r| r.is_finite())
}

/// Kendall's τ-b ([`crate::simulate::kendall_tau_b`], ties in either variable corrected for),
/// O(n²): benchmarks rank tens or hundreds of models. `None` when undefined.
pub fn kendall(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    Some(crate::simulate::kendall_tau_b(x, y)).filter(|t| t.is_finite())
}

/// Both correlations with percentile bootstrap intervals (`rounds` resamples of the pairs;
/// resamples where a correlation is undefined are skipped).
pub fn rank_agreement(x: &[f64], y: &[f64], rounds: usize, seed: u64) -> Option<RankAgreement> {
    if x.len() != y.len() || x.len() < 3 {
        return None;
    }
    let (rho, tau) = (spearman(x, y)?, kendall(x, y)?);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut rhos, mut taus) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    let n = x.len();
    let (mut bx, mut by) = (vec![0.0; n], vec![0.0; n]);
    for _ in 0..rounds {
        for k in 0..n {
            let i = rng.random_range(0..n);
            bx[k] = x[i];
            by[k] = y[i];
        }
        if let Some(r) = spearman(&bx, &by) {
            rhos.push(r);
        }
        if let Some(t) = kendall(&bx, &by) {
            taus.push(t);
        }
    }
    let interval = |mut v: Vec<f64>| -> (Option<f64>, Option<f64>) {
        if v.len() < rounds / 2 || v.len() < 20 {
            return (None, None);
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (Some(at(0.025)), Some(at(0.975)))
    };
    let (rl, ru) = interval(rhos);
    let (tl, tu) = interval(taus);
    Some(RankAgreement {
        pairs: n,
        spearman: Correlation {
            estimate: rho,
            lower: rl,
            upper: ru,
        },
        kendall: Correlation {
            estimate: tau,
            lower: tl,
            upper: tu,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::average_ranks;

    #[test]
    fn monotone_and_reversed_orders() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let up = [10.0, 20.0, 25.0, 90.0, 100.0];
        let down: Vec<f64> = up.iter().rev().copied().collect();
        assert!((spearman(&x, &up).unwrap() - 1.0).abs() < 1e-12);
        assert!((kendall(&x, &up).unwrap() - 1.0).abs() < 1e-12);
        assert!((spearman(&x, &down).unwrap() + 1.0).abs() < 1e-12);
        assert!((kendall(&x, &down).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(
            spearman(&x, &[1.0; 5]),
            None,
            "a constant benchmark says nothing"
        );
    }

    /// Hand-checked: x = 1..5, y = 1 3 2 5 4. Spearman: d = 0 1 1 1 1, Σd² = 4,
    /// ρ = 1 − 6·4/(5·24) = 0.8. Kendall: of 10 pairs, 2 discordant ((2,3), (4,5)): τ = 0.6.
    /// With ties (y = 1 2 2 3 3): τ-b = (C − D)/√((n0 − n1)(n0 − n2)) = 8/√(10·8) = 0.894…
    #[test]
    fn hand_checked_values() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [1.0, 3.0, 2.0, 5.0, 4.0];
        assert!((spearman(&x, &y).unwrap() - 0.8).abs() < 1e-12);
        assert!((kendall(&x, &y).unwrap() - 0.6).abs() < 1e-12);
        let tied = [1.0, 2.0, 2.0, 3.0, 3.0];
        assert!((kendall(&x, &tied).unwrap() - 8.0 / 80f64.sqrt()).abs() < 1e-12);
        assert_eq!(average_ranks(&tied), vec![1.0, 2.5, 2.5, 4.5, 4.5]);
    }

    /// The interval holds the estimate, is reproducible for a seed, and narrows with more
    /// models.
    #[test]
    fn bootstrap_intervals() {
        let noisy = |n: usize| -> (Vec<f64>, Vec<f64>) {
            let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let y: Vec<f64> = (0..n)
                .map(|i| i as f64 + ((i * 7919) % 13) as f64 * 2.0)
                .collect();
            (x, y)
        };
        let (x, y) = noisy(12);
        let a = rank_agreement(&x, &y, 1000, 1).unwrap();
        assert_eq!(a, rank_agreement(&x, &y, 1000, 1).unwrap());
        let (lo, hi) = (a.spearman.lower.unwrap(), a.spearman.upper.unwrap());
        assert!(
            lo <= a.spearman.estimate && a.spearman.estimate <= hi,
            "{a:?}"
        );
        let (x, y) = noisy(120);
        let b = rank_agreement(&x, &y, 1000, 1).unwrap();
        let width = |c: &Correlation| c.upper.unwrap() - c.lower.unwrap();
        assert!(width(&b.kendall) < width(&a.kendall));
        assert!(rank_agreement(&x[..2], &y[..2], 100, 1).is_none());
    }
}
