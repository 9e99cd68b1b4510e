//! Sandwich (robust) variances of a Bradley–Terry fit: `H⁻¹ G H⁻¹` at the solution, and a
//! faster equivalent for the half-win model that never forms the dense product.

use crate::fit::Gauge;
use crate::linalg::{Cholesky, Matrix};
use crate::model::{self, Problem, TieModel};

/// Robust covariance `H⁻¹ G H⁻¹` of the parameters at the solution, in the
/// mean-zero gauge (the gauge term makes `H` invertible and drops out because
/// `G` annihilates the gauge direction).
pub(crate) fn sandwich_covariance(
    p: &Problem,
    ties: TieModel,
    sol: &model::Solution,
    ridge: f64,
) -> Matrix {
    let mut h = sol.hessian.clone();
    if ridge == 0.0 {
        model::add_gauge_term(&mut h, p.n);
    }
    let h_inv = match Cholesky::new(&h) {
        Some(c) => c.inverse(),
        None => Matrix::identity(h.n), // unreachable for a finite MLE
    };
    let g = model::score_outer_product(p, ties, &sol.x);
    h_inv.mul(&g).mul(&h_inv)
}

/// The sandwich variances of the gauge-fixed ratings (natural units²) for the
/// half-win model, without forming `H⁻¹GH⁻¹`: with `M = H⁻¹` and the gauge
/// contrast `cᵢ` (eᵢ minus the mean, or minus the anchor), `Var = uᵀGu` with
/// `u = M cᵢ`, and the meat is a weighted graph Laplacian,
/// `uᵀGu = Σ_pairs w (u_a − u_b)²`. Cost: one inverse plus n × pairs, instead
/// of two dense n³ products. Equal to `gauge.variances(sandwich_covariance(..))`.
pub(crate) fn sandwich_variances_half(
    p: &Problem,
    sol: &model::Solution,
    ridge: f64,
    gauge: &Gauge,
) -> Vec<f64> {
    let n = p.n;
    let mut h = sol.hessian.clone();
    if ridge == 0.0 {
        model::add_gauge_term(&mut h, n);
    }
    let m = match Cholesky::new(&h) {
        Some(c) => c.inverse(),
        None => Matrix::identity(n), // unreachable for a finite MLE
    };
    let weights = model::score_weights_half(p, &sol.x);
    // the column of M that the gauge subtracts: the mean column, or the anchor's
    let reference: Vec<f64> = match gauge.anchor {
        Some((a, _)) => (0..n).map(|r| m.get(r, a)).collect(),
        None => (0..n)
            .map(|r| m.row(r).iter().sum::<f64>() / n as f64)
            .collect(),
    };
    let mut u = vec![0.0; n];
    (0..n)
        .map(|i| {
            // M is symmetric: column i is row i
            for (r, v) in u.iter_mut().enumerate() {
                *v = m.get(i, r) - reference[r];
            }
            let mut var = 0.0;
            for k in 0..p.i.len() {
                let d = u[p.i[k]] - u[p.j[k]];
                var += weights[k] * d * d;
            }
            var
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::{Gauge, initial_point, prepare};
    use crate::model::Penalty;

    #[test]
    fn fast_sandwich_variances_equal_the_full_product() {
        let (c, _) = crate::simulate::synthetic_case(12, 30, 5_000, 0.3, 4);
        let p = prepare(&c).problem;
        for ridge in [0.0, 0.05] {
            let x0 = initial_point(&p, TieModel::Half);
            let sol = model::newton(&p, TieModel::Half, &Penalty::ridge(ridge), &x0, 1e-10, 100);
            let cov = sandwich_covariance(&p, TieModel::Half, &sol, ridge);
            for anchor in [None, Some((3, 1114.0))] {
                let gauge = Gauge { anchor };
                let slow = gauge.variances(&cov, p.n);
                let fast = sandwich_variances_half(&p, &sol, ridge, &gauge);
                for (a, b) in slow.iter().zip(&fast) {
                    assert!((a - b).abs() <= 1e-12 + 1e-9 * a.abs(), "{a} vs {b}");
                }
            }
        }
    }
}
