//! The multinomial bootstrap of the counts: each round redistributes the N
//! votes over all (pair, outcome) cells with probabilities count/N, refits
//! from the full-data solution (a warm start: Newton then needs two or three
//! steps), and the 2.5/97.5 percentiles of the refitted ratings make the
//! interval. Rounds run in parallel with rayon; round `r` draws from its own
//! ChaCha stream `(seed, r)`, so results do not depend on the thread count.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};
use rayon::prelude::*;

use crate::fit::Gauge;
use crate::graph;
use crate::linalg::Matrix;
use crate::model::{self, Penalty, Problem, TieModel};

/// A bootstrap round stops once a fast-contracting Newton/chord step moves no
/// log-strength by more than this (≈ 4e-6 Elo; the remaining error is below
/// a ninth of it), far below the Monte-Carlo error of percentile intervals
/// (≈ 0.1–1 Elo). The leaderboard fit itself goes to the gradient tolerance.
pub(crate) const ROUND_STEP_TOLERANCE: f64 = 1e-8;

pub(crate) struct BootstrapResult {
    pub(crate) intervals: Vec<(f64, f64)>,
    pub(crate) tie_parameter: Option<(f64, f64)>,
    pub(crate) failed_rounds: usize,
}

/// One multinomial draw of `total` votes over `cells` (proportional to the
/// cell counts), by the conditional-binomial method: cell k gets
/// Binomial(votes left, count_k / counts left). One binomial per cell instead
/// of one categorical draw per vote.
pub(crate) fn multinomial_counts(cells: &[u64], total: u64, rng: &mut ChaCha8Rng, out: &mut [u64]) {
    let mut votes_left = total;
    let mut mass_left: u64 = cells.iter().sum();
    for (c, o) in cells.iter().zip(out.iter_mut()) {
        if votes_left == 0 || *c == 0 {
            *o = 0;
            mass_left -= c;
            continue;
        }
        if *c >= mass_left {
            *o = votes_left;
        } else {
            let prob = *c as f64 / mass_left as f64;
            *o = Binomial::new(votes_left, prob)
                .map(|b| b.sample(rng))
                .unwrap_or(0);
        }
        votes_left -= *o;
        mass_left -= c;
    }
}

/// The random stream of round `round`: independent of which thread runs it.
pub(crate) fn round_rng(seed: u64, round: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(round);
    rng
}

/// Linear-interpolation quantile of sorted data (numpy's default).
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn bootstrap_intervals(
    p: &Problem,
    ties: TieModel,
    ridge: f64,
    x_hat: &[f64],
    gauge: &Gauge,
    rounds: usize,
    seed: u64,
    tolerance: f64,
    max_iterations: usize,
) -> BootstrapResult {
    let n_pairs = p.i.len();
    let mut cells = Vec::with_capacity(3 * n_pairs);
    for k in 0..n_pairs {
        cells.push(p.wins_i[k] as u64);
        cells.push(p.wins_j[k] as u64);
        cells.push(p.ties[k] as u64);
    }
    let total: u64 = cells.iter().sum();
    let penalty = Penalty::ridge(ridge);
    // The full-data Hessian, factorised once: each round starts with chord
    // steps on it from the full-data solution.
    let mut full_hessian = Matrix::zeros(p.dim(ties));
    let mut scratch = vec![0.0; p.dim(ties)];
    model::nll_gradient_hessian(p, ties, x_hat, &mut scratch, Some(&mut full_hessian));
    for k in 0..p.n {
        full_hessian.add(k, k, ridge);
    }
    let factor = model::factorise(&full_hessian, &penalty, p.n);

    let draws: Vec<Option<(Vec<f64>, Option<f64>)>> = (0..rounds as u64)
        .into_par_iter()
        // per-thread scratch: the resampled counts and the problem built on them
        .map_init(
            || (vec![0u64; cells.len()], p.clone()),
            |(sample, q), round| {
                let mut rng = round_rng(seed, round);
                multinomial_counts(&cells, total, &mut rng, sample);
                for k in 0..n_pairs {
                    q.wins_i[k] = sample[3 * k] as f64;
                    q.wins_j[k] = sample[3 * k + 1] as f64;
                    q.ties[k] = sample[3 * k + 2] as f64;
                }
                // The full data passed the existence checks, so a resample can
                // fail them only if some non-empty cell came out empty.
                let lost_cell = cells
                    .iter()
                    .zip(sample.iter())
                    .any(|(&c, &s)| c > 0 && s == 0);
                if ridge == 0.0 && lost_cell && !graph::strongly_connected(q) {
                    return None;
                }
                if ties == TieModel::Davidson
                    && (q.total_ties() == 0.0 || q.total_decisive() == 0.0)
                {
                    return None;
                }
                let sol = model::newton_from(
                    q,
                    ties,
                    &penalty,
                    x_hat,
                    tolerance,
                    ROUND_STEP_TOLERANCE,
                    max_iterations,
                    Some(factor.clone()),
                    false,
                );
                // Accept rounds stalled by rounding just above a tight tolerance.
                if sol.gradient_norm.is_nan() || !(sol.converged || sol.gradient_norm <= 1e-6) {
                    return None;
                }
                let nu = (ties == TieModel::Davidson).then(|| sol.x[p.n].exp());
                Some((gauge.ratings(&sol.x[..p.n]), nu))
            },
        )
        .collect();

    let ok: Vec<&(Vec<f64>, Option<f64>)> = draws.iter().flatten().collect();
    let failed_rounds = rounds - ok.len();
    let interval = |mut v: Vec<f64>| -> (f64, f64) {
        if v.is_empty() {
            return (f64::NAN, f64::NAN);
        }
        v.sort_by(f64::total_cmp);
        (quantile_sorted(&v, 0.025), quantile_sorted(&v, 0.975))
    };
    let intervals = (0..p.n)
        .map(|m| interval(ok.iter().map(|(r, _)| r[m]).collect()))
        .collect();
    let tie_parameter = (ties == TieModel::Davidson)
        .then(|| interval(ok.iter().filter_map(|(_, nu)| *nu).collect()));
    BootstrapResult {
        intervals,
        tie_parameter,
        failed_rounds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multinomial_preserves_total_and_empty_cells() {
        let cells = [5, 0, 10, 85, 0];
        let mut out = [0u64; 5];
        let mut rng = round_rng(7, 3);
        multinomial_counts(&cells, 100, &mut rng, &mut out);
        assert_eq!(out.iter().sum::<u64>(), 100);
        assert_eq!(out[1], 0);
        assert_eq!(out[4], 0);
    }

    #[test]
    fn multinomial_means_match_probabilities() {
        let cells = [1u64, 2, 7];
        let mut sums = [0u64; 3];
        let mut out = [0u64; 3];
        for r in 0..2000 {
            let mut rng = round_rng(1, r);
            multinomial_counts(&cells, 1000, &mut rng, &mut out);
            for k in 0..3 {
                sums[k] += out[k];
            }
        }
        let means: Vec<f64> = sums.iter().map(|&s| s as f64 / 2000.0).collect();
        assert!((means[0] - 100.0).abs() < 1.5, "{means:?}");
        assert!((means[1] - 200.0).abs() < 2.0, "{means:?}");
        assert!((means[2] - 700.0).abs() < 2.0, "{means:?}");
    }

    /// A round stopped by the step rule is as good as one run to the full
    /// gradient tolerance, for the purpose of percentiles.
    #[test]
    fn step_rule_rounds_match_fully_converged_rounds() {
        let (c, _) = crate::simulate::synthetic_case(30, 200, 60_000, 0.3, 8);
        let p = crate::fit::prepare(&c).problem;
        let pen = Penalty::ridge(0.0);
        let x0 = crate::fit::initial_point(&p, TieModel::Half);
        let full = model::newton(&p, TieModel::Half, &pen, &x0, 1e-10, 100);
        let factor = model::factorise(&full.hessian, &pen, p.n);
        let mut cells = Vec::new();
        for k in 0..p.i.len() {
            cells.extend([p.wins_i[k], p.wins_j[k], p.ties[k]].map(|v| v as u64));
        }
        let total = cells.iter().sum();
        let mut sample = vec![0; cells.len()];
        let mut q = p.clone();
        for round in 0..20 {
            multinomial_counts(&cells, total, &mut round_rng(5, round), &mut sample);
            for k in 0..p.i.len() {
                q.wins_i[k] = sample[3 * k] as f64;
                q.wins_j[k] = sample[3 * k + 1] as f64;
                q.ties[k] = sample[3 * k + 2] as f64;
            }
            let run = |step_tol| {
                model::newton_from(
                    &q,
                    TieModel::Half,
                    &pen,
                    &full.x,
                    1e-10,
                    step_tol,
                    100,
                    Some(factor.clone()),
                    false,
                )
            };
            let (fast, exact) = (run(ROUND_STEP_TOLERANCE), run(0.0));
            assert!(fast.converged && exact.gradient_norm <= 1e-10);
            let worst = fast
                .x
                .iter()
                .zip(&exact.x)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(worst < ROUND_STEP_TOLERANCE, "{worst}");
        }
    }

    #[test]
    fn quantiles_interpolate() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&v, 0.5), 2.0);
        assert!((quantile_sorted(&v, 0.025) - 0.1).abs() < 1e-12);
    }
}
