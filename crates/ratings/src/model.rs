//! The two likelihoods (Bradley–Terry with ties as half wins, and Davidson's
//! tie model) on aggregated counts, their derivatives, and the damped Newton
//! solver shared by the full fit, the bootstrap rounds and the Bayesian update.
//!
//! Parameters: `x = θ` (one log-strength per rated model) for the half-win
//! model, `x = (θ, η)` with `ν = e^η` for Davidson. The solver minimises
//! `f(x) = −ℓ(x) + ridge/2·|θ|² (+ a Gaussian prior term for the Bayesian view)`.

use crate::linalg::{Cholesky, Matrix, dot};

/// How ties enter the likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TieModel {
    /// Bradley–Terry; a tie (of either kind) is half a win for each side.
    #[default]
    Half,
    /// Davidson (1970): P(tie) = ν√(πᵢπⱼ)/(πᵢ + πⱼ + ν√(πᵢπⱼ)).
    Davidson,
}

/// Aggregated counts over the rated models, as parallel arrays (one entry per
/// compared pair, `i < j`). Counts are `f64` so that the bootstrap can swap in
/// resampled counts without conversions in the hot loop.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) n: usize,
    pub(crate) i: Vec<usize>,
    pub(crate) j: Vec<usize>,
    pub(crate) wins_i: Vec<f64>,
    pub(crate) wins_j: Vec<f64>,
    /// Ties of both kinds.
    pub(crate) ties: Vec<f64>,
}

impl Problem {
    pub(crate) fn total_ties(&self) -> f64 {
        self.ties.iter().sum()
    }

    pub(crate) fn total_decisive(&self) -> f64 {
        self.wins_i.iter().chain(&self.wins_j).sum()
    }

    pub(crate) fn dim(&self, ties: TieModel) -> usize {
        match ties {
            TieModel::Half => self.n,
            TieModel::Davidson => self.n + 1,
        }
    }
}

/// An optional Gaussian prior `½ (θ − m)ᵀ P (θ − m)` added to the objective.
pub(crate) struct GaussianPrior<'a> {
    pub(crate) mean: &'a [f64],
    pub(crate) precision: &'a Matrix,
}

/// Everything the solver adds to the negative log-likelihood.
pub(crate) struct Penalty<'a> {
    pub(crate) ridge: f64,
    pub(crate) prior: Option<GaussianPrior<'a>>,
}

impl Penalty<'_> {
    pub(crate) fn ridge(ridge: f64) -> Self {
        Penalty { ridge, prior: None }
    }

    /// The objective is invariant to shifting all θ (a gauge freedom) unless
    /// a ridge or a proper prior pins it down.
    fn has_gauge_freedom(&self) -> bool {
        self.ridge == 0.0 && self.prior.is_none()
    }

    fn value(&self, theta: &[f64]) -> f64 {
        let mut v = 0.5 * self.ridge * dot(theta, theta);
        if let Some(p) = &self.prior {
            let d: Vec<f64> = theta.iter().zip(p.mean).map(|(t, m)| t - m).collect();
            v += 0.5 * p.precision.quadratic_form(&d);
        }
        v
    }

    fn add_gradient(&self, theta: &[f64], grad: &mut [f64]) {
        for (g, t) in grad.iter_mut().zip(theta) {
            *g += self.ridge * t;
        }
        if let Some(p) = &self.prior {
            let d: Vec<f64> = theta.iter().zip(p.mean).map(|(t, m)| t - m).collect();
            for (k, g) in grad.iter_mut().enumerate() {
                *g += dot(p.precision.row(k), &d);
            }
        }
    }

    fn add_hessian(&self, hess: &mut Matrix, n_theta: usize) {
        for k in 0..n_theta {
            hess.add(k, k, self.ridge);
        }
        if let Some(prior) = &self.prior {
            for a in 0..n_theta {
                for b in 0..n_theta {
                    hess.add(a, b, prior.precision.get(a, b));
                }
            }
        }
    }
}

#[inline]
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// Branch-free logistic function: for very negative `z`, `exp(−z)` overflows
/// to infinity and the result is the correct 0 (a data-dependent branch here
/// mispredicts half the time in the hot loop).
#[inline]
fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Davidson probabilities `(P_i, P_j, P_tie, ln D)` for `d = (θi − θj)/2`.
#[inline]
fn davidson_probs(d: f64, nu: f64) -> (f64, f64, f64, f64) {
    let a = d.abs();
    let e1 = (-a).exp();
    let denom = 1.0 + e1 * e1 + nu * e1; // D / e^{|d|}
    let ln_d = a + denom.ln();
    let (hi, lo) = (1.0 / denom, e1 * e1 / denom);
    let pt = nu * e1 / denom;
    if d >= 0.0 {
        (hi, lo, pt, ln_d)
    } else {
        (lo, hi, pt, ln_d)
    }
}

/// Negative log-likelihood (without penalty).
pub(crate) fn neg_log_likelihood(p: &Problem, ties: TieModel, x: &[f64]) -> f64 {
    let mut f = 0.0;
    match ties {
        TieModel::Half => {
            for k in 0..p.i.len() {
                let z = x[p.i[k]] - x[p.j[k]];
                let s_j = p.wins_j[k] + 0.5 * p.ties[k];
                let n = p.wins_i[k] + p.wins_j[k] + p.ties[k];
                // s_i·softplus(−z) + s_j·softplus(z), with softplus(z) = softplus(−z) + z
                f += n * softplus(-z) + s_j * z;
            }
        }
        TieModel::Davidson => {
            let eta = x[p.n];
            let nu = eta.exp();
            for k in 0..p.i.len() {
                let d = 0.5 * (x[p.i[k]] - x[p.j[k]]);
                let (_, _, _, ln_d) = davidson_probs(d, nu);
                let (wi, wj, t) = (p.wins_i[k], p.wins_j[k], p.ties[k]);
                f -= wi * (d - ln_d) + wj * (-d - ln_d) + t * (eta - ln_d);
            }
        }
    }
    f
}

/// Gradient (and optionally Hessian) of the negative log-likelihood, written
/// into zeroed buffers.
pub(crate) fn nll_gradient_hessian(
    p: &Problem,
    ties: TieModel,
    x: &[f64],
    grad: &mut [f64],
    mut hess: Option<&mut Matrix>,
) {
    grad.iter_mut().for_each(|g| *g = 0.0);
    if let Some(h) = hess.as_deref_mut() {
        h.data.iter_mut().for_each(|v| *v = 0.0);
    }
    match ties {
        TieModel::Half => {
            for k in 0..p.i.len() {
                let (a, b) = (p.i[k], p.j[k]);
                let n = p.wins_i[k] + p.wins_j[k] + p.ties[k];
                if n == 0.0 {
                    continue;
                }
                let prob = sigmoid(x[a] - x[b]);
                let r = p.wins_i[k] + 0.5 * p.ties[k] - n * prob;
                grad[a] -= r;
                grad[b] += r;
                if let Some(h) = hess.as_deref_mut() {
                    let w = n * prob * (1.0 - prob);
                    h.add(a, a, w);
                    h.add(b, b, w);
                    h.add(a, b, -w);
                    h.add(b, a, -w);
                }
            }
        }
        TieModel::Davidson => {
            let e = p.n;
            let nu = x[e].exp();
            for k in 0..p.i.len() {
                let (a, b) = (p.i[k], p.j[k]);
                let (wi, wj, t) = (p.wins_i[k], p.wins_j[k], p.ties[k]);
                let n = wi + wj + t;
                if n == 0.0 {
                    continue;
                }
                let d = 0.5 * (x[a] - x[b]);
                let (pi, pj, pt, _) = davidson_probs(d, nu);
                let diff = pi - pj;
                let gd = wi - wj - n * diff; // ∂ℓ/∂d
                let ge = t - n * pt; // ∂ℓ/∂η
                grad[a] -= 0.5 * gd;
                grad[b] += 0.5 * gd;
                grad[e] -= ge;
                if let Some(h) = hess.as_deref_mut() {
                    let hdd = n * ((pi + pj) - diff * diff) * 0.25;
                    let hde = -n * diff * pt * 0.5;
                    let hee = n * pt * (1.0 - pt);
                    h.add(a, a, hdd);
                    h.add(b, b, hdd);
                    h.add(a, b, -hdd);
                    h.add(b, a, -hdd);
                    h.add(a, e, hde);
                    h.add(e, a, hde);
                    h.add(b, e, -hde);
                    h.add(e, b, -hde);
                    h.add(e, e, hee);
                }
            }
        }
    }
}

/// The "meat" of the sandwich: `G = Σ_votes s sᵀ` where `s` is one vote's
/// score (gradient of its log-likelihood). Votes of one pair and outcome
/// category share the same score, so `G` is a sum over (pair, category) cells
/// weighted by their counts.
pub(crate) fn score_outer_product(p: &Problem, ties: TieModel, x: &[f64]) -> Matrix {
    let dim = p.dim(ties);
    let mut g = Matrix::zeros(dim);
    match ties {
        TieModel::Half => {
            for (k, w) in score_weights_half(p, x).into_iter().enumerate() {
                let (a, b) = (p.i[k], p.j[k]);
                g.add(a, a, w);
                g.add(b, b, w);
                g.add(a, b, -w);
                g.add(b, a, -w);
            }
        }
        TieModel::Davidson => {
            let e = p.n;
            let nu = x[e].exp();
            for k in 0..p.i.len() {
                let (a, b) = (p.i[k], p.j[k]);
                let d = 0.5 * (x[a] - x[b]);
                let (pi, pj, pt, _) = davidson_probs(d, nu);
                let diff = pi - pj;
                // (count, ∂ℓ/∂d, ∂ℓ/∂η) per outcome category
                let cells = [
                    (p.wins_i[k], 1.0 - diff, -pt),
                    (p.wins_j[k], -1.0 - diff, -pt),
                    (p.ties[k], -diff, 1.0 - pt),
                ];
                let (mut sdd, mut sde, mut see) = (0.0, 0.0, 0.0);
                for (c, sd, se) in cells {
                    sdd += c * sd * sd;
                    sde += c * sd * se;
                    see += c * se * se;
                }
                // θ scores are ±½ ∂ℓ/∂d
                let tt = 0.25 * sdd;
                let te = 0.5 * sde;
                g.add(a, a, tt);
                g.add(b, b, tt);
                g.add(a, b, -tt);
                g.add(b, a, -tt);
                g.add(a, e, te);
                g.add(e, a, te);
                g.add(b, e, -te);
                g.add(e, b, -te);
                g.add(e, e, see);
            }
        }
    }
    g
}

/// Per-pair weight of the half-win meat: `G = Σ_pairs w (e_i − e_j)(e_i − e_j)ᵀ`.
pub(crate) fn score_weights_half(p: &Problem, x: &[f64]) -> Vec<f64> {
    (0..p.i.len())
        .map(|k| {
            let prob = sigmoid(x[p.i[k]] - x[p.j[k]]);
            p.wins_i[k] * (1.0 - prob).powi(2)
                + p.wins_j[k] * prob * prob
                + p.ties[k] * (0.5 - prob).powi(2)
        })
        .collect()
}

/// Adds `c·uuᵀ` with `u = (1,…,1, 0)` over the θ block: makes the Hessian
/// invertible without changing the step, which stays orthogonal to the gauge
/// direction because the gradient is.
pub(crate) fn add_gauge_term(h: &mut Matrix, n_theta: usize) {
    let trace: f64 = (0..n_theta).map(|k| h.get(k, k)).sum();
    let c = (trace / (n_theta * n_theta) as f64).max(1e-12);
    for a in 0..n_theta {
        for b in 0..n_theta {
            h.add(a, b, c);
        }
    }
}

/// The outcome of [`newton`].
#[derive(Debug, Clone)]
pub(crate) struct Solution {
    pub(crate) x: Vec<f64>,
    pub(crate) iterations: usize,
    pub(crate) gradient_norm: f64,
    pub(crate) converged: bool,
    /// Hessian of the penalised objective at `x` (no gauge term); all zero
    /// when not asked for.
    pub(crate) hessian: Matrix,
}

/// Damped Newton's method until the gradient norm is at most `tol`.
///
/// Each step solves with the Cholesky factor of the Hessian. Once Newton is in
/// its quadratic phase, the last factor is reused ("chord" steps: one
/// gradient evaluation and two triangular solves each) for as long as it
/// shrinks the gradient fast; otherwise the Hessian is refactorised. A step is
/// accepted when it reduces the gradient norm; if it does not, the step is
/// halved until the Armijo condition on the objective holds (the objective is
/// convex, so the Newton direction is always a descent direction).
pub(crate) fn newton(
    p: &Problem,
    ties: TieModel,
    penalty: &Penalty<'_>,
    x0: &[f64],
    tol: f64,
    max_iterations: usize,
) -> Solution {
    newton_from(p, ties, penalty, x0, tol, 0.0, max_iterations, None, true)
}

/// Cholesky factor of the Hessian made invertible (gauge term when the
/// objective has the shift freedom; a Levenberg shift if still not positive
/// definite).
pub(crate) fn factorise(hess: &Matrix, penalty: &Penalty<'_>, n_theta: usize) -> Cholesky {
    let dim = hess.n;
    let mut a = hess.clone();
    if penalty.has_gauge_freedom() {
        add_gauge_term(&mut a, n_theta);
    }
    if let Some(c) = Cholesky::new(&a) {
        return c;
    }
    let scale = (0..dim).map(|k| a.get(k, k).abs()).fold(1e-12, f64::max);
    let mut shift = 1e-10 * scale;
    loop {
        let mut b = a.clone();
        for k in 0..dim {
            b.add(k, k, shift);
        }
        if let Some(c) = Cholesky::new(&b) {
            return c;
        }
        shift *= 10.0;
    }
}

/// [`newton`] starting with chord steps on `factor` (e.g. the full-data
/// Hessian when refitting a bootstrap resample from the full-data solution).
///
/// Besides the gradient tolerance `tol`, the iteration also stops (and counts
/// as converged) once a step that shrank the gradient at least tenfold moved
/// no parameter by more than `step_tol`: the iteration then contracts by ≤ 0.1
/// per step, so the remaining error is below `step_tol / 9`. `step_tol = 0`
/// disables this rule (the leaderboard fit); bootstrap rounds use it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn newton_from(
    p: &Problem,
    ties: TieModel,
    penalty: &Penalty<'_>,
    x0: &[f64],
    tol: f64,
    step_tol: f64,
    max_iterations: usize,
    factor: Option<Cholesky>,
    want_hessian: bool,
) -> Solution {
    let dim = p.dim(ties);
    let n_theta = p.n;
    let objective = |x: &[f64]| neg_log_likelihood(p, ties, x) + penalty.value(&x[..n_theta]);
    // the penalty touches only the θ block (never Davidson's η)
    let gradient = |x: &[f64], grad: &mut [f64]| {
        nll_gradient_hessian(p, ties, x, grad, None);
        penalty.add_gradient(&x[..n_theta], &mut grad[..n_theta]);
    };
    let mut scratch = vec![0.0; dim];
    let mut hessian = |x: &[f64], hess: &mut Matrix| {
        nll_gradient_hessian(p, ties, x, &mut scratch, Some(hess));
        penalty.add_hessian(hess, n_theta);
    };
    let mut x = x0.to_vec();
    let mut grad = vec![0.0; dim];
    let mut iterations = 0;
    let mut step = vec![0.0; dim];
    let mut trial = vec![0.0; dim];
    let mut trial_grad = vec![0.0; dim];
    let mut hess = Matrix::zeros(dim);
    gradient(&x, &mut grad);
    let mut gnorm = dot(&grad, &grad).sqrt();
    // The last factor, tried again as a chord step: one gradient evaluation
    // and two triangular solves instead of a Hessian and a factorisation.
    let mut reusable: Option<Cholesky> = factor;
    let mut small_step = false;
    while gnorm > tol && iterations < max_iterations && gnorm.is_finite() {
        iterations += 1;
        let chord = reusable.is_some();
        let chol = match reusable.take() {
            Some(c) => c,
            None => {
                hessian(&x, &mut hess);
                factorise(&hess, penalty, n_theta)
            }
        };
        step.iter_mut().zip(&grad).for_each(|(s, g)| *s = -g);
        chol.solve_in_place(&mut step);
        for k in 0..dim {
            trial[k] = x[k] + step[k];
        }
        gradient(&trial, &mut trial_grad);
        let trial_norm = dot(&trial_grad, &trial_grad).sqrt();
        // A chord step must converge fast to be worth keeping; a Newton step
        // must at least reduce the gradient.
        let needed = if chord { 0.1 } else { 1.0 };
        if trial_norm.is_finite() && trial_norm < needed * gnorm {
            reusable = Some(chol);
            small_step = trial_norm < 0.1 * gnorm
                && step.iter().fold(0.0f64, |m, s| m.max(s.abs())) <= step_tol;
        } else if chord {
            // The stale factor is no longer good enough: refactorise here.
            continue;
        } else {
            // Backtrack on the objective (Armijo).
            let f = objective(&x);
            let slope = dot(&grad, &step);
            let mut t = 0.5;
            let mut accepted = false;
            while t > 1e-12 {
                for k in 0..dim {
                    trial[k] = x[k] + t * step[k];
                }
                let f_new = objective(&trial);
                if f_new <= f + 1e-4 * t * slope {
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            if !accepted {
                break;
            }
            gradient(&trial, &mut trial_grad);
        }
        std::mem::swap(&mut x, &mut trial);
        std::mem::swap(&mut grad, &mut trial_grad);
        gnorm = dot(&grad, &grad).sqrt();
        if small_step {
            break;
        }
    }
    if want_hessian {
        hessian(&x, &mut hess);
    }
    Solution {
        converged: gnorm <= tol || small_step,
        x,
        iterations,
        gradient_norm: gnorm,
        hessian: hess,
    }
}
