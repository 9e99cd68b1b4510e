//! The baseline the Newton fit is measured against: Zermelo's/Hunter's MM
//! iteration for Bradley–Terry (ties as half wins), stopped at a loose
//! tolerance like the reference implementations. Used by the bench table and
//! the benches only; it is not part of the leaderboard path.

use crate::fit::prepare;
use crate::{Comparisons, RatingError};

/// Result of [`mm_fit`]: log-strengths of the rated models (in the order of
/// `Comparisons::models()` restricted to models with votes), mean zero.
#[derive(Debug, Clone)]
pub struct MmFit {
    pub models: Vec<String>,
    pub theta: Vec<f64>,
    pub iterations: usize,
}

/// MM iteration `πᵢ ← Wᵢ / Σⱼ nᵢⱼ/(πᵢ + πⱼ)` until the largest change of
/// `ln πᵢ` is below `tolerance` (or `max_iterations`).
pub fn mm_fit(
    comparisons: &Comparisons,
    tolerance: f64,
    max_iterations: usize,
) -> Result<MmFit, RatingError> {
    let prep = prepare(comparisons);
    let p = &prep.problem;
    if p.n == 0 {
        return Err(RatingError::NoVotes);
    }
    let mut wins = vec![0.0; p.n];
    let mut totals = Vec::with_capacity(p.i.len());
    for k in 0..p.i.len() {
        wins[p.i[k]] += p.wins_i[k] + 0.5 * p.ties[k];
        wins[p.j[k]] += p.wins_j[k] + 0.5 * p.ties[k];
        totals.push(p.wins_i[k] + p.wins_j[k] + p.ties[k]);
    }
    let mut pi = vec![1.0f64; p.n];
    let mut denom = vec![0.0; p.n];
    let mut iterations = 0;
    while iterations < max_iterations {
        iterations += 1;
        denom.iter_mut().for_each(|d| *d = 0.0);
        for k in 0..p.i.len() {
            let (a, b) = (p.i[k], p.j[k]);
            let v = totals[k] / (pi[a] + pi[b]);
            denom[a] += v;
            denom[b] += v;
        }
        let mut new: Vec<f64> = (0..p.n).map(|m| wins[m] / denom[m]).collect();
        let log_mean = new.iter().map(|v| v.ln()).sum::<f64>() / p.n as f64;
        new.iter_mut().for_each(|v| *v /= log_mean.exp());
        let change = new
            .iter()
            .zip(&pi)
            .map(|(a, b)| (a.ln() - b.ln()).abs())
            .fold(0.0, f64::max);
        pi = new;
        if change < tolerance {
            break;
        }
    }
    Ok(MmFit {
        models: prep
            .rated
            .iter()
            .map(|&m| comparisons.models()[m].clone())
            .collect(),
        theta: pi.iter().map(|v| v.ln()).collect(),
        iterations,
    })
}
