//! Style control: the Bradley–Terry fit with the answers' style as covariates (the Chatbot Arena
//! method), so that a model is not ranked up for writing longer or more decorated answers.
//!
//! Each vote is a logistic observation `P(a beats b) = σ(θa − θb + β·d)`, where `d` holds, per
//! style feature (answer length in tokens, headers, list items, bold spans), the normalised
//! difference `(fa − fb) / (fa + fb)` (0 when both are 0), standardised over the votes (mean 0,
//! standard deviation 1; a feature that never varies is left out). Ties and "both bad" count half
//! a win each, as in the main fit. The fit is exact: Newton's method on the full log-likelihood
//! to a gradient norm ≤ `tolerance`, one model's θ pinned at 0 during the fit and the ratings
//! centred on 1000 afterwards; intervals are the sandwich `H⁻¹GH⁻¹` over votes, as for the main
//! ranking. `β` (per standardised feature, in Elo points) says how much style alone moves a vote.
//!
//! Its cost grows with the number of votes (the features are per vote), unlike the main fit's.

use serde::{Deserialize, Serialize};

use crate::fit::{BASE_RATING, ELO_PER_NATURAL_UNIT, Z_95};
use crate::linalg::{Cholesky, Matrix, dot};
use crate::{Outcome, RatingError};

/// The style features of one answer.
pub const FEATURES: [&str; 4] = ["length", "headers", "lists", "bold"];

/// One vote with both answers' style features (in the order of [`FEATURES`]); models are
/// indices into the model list given to [`fit_style`] (an arena's votes are many, its models few).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StyledVote {
    pub model_a: u32,
    pub model_b: u32,
    pub outcome: Outcome,
    pub style_a: [f32; 4],
    pub style_b: [f32; 4],
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StyleOptions {
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for StyleOptions {
    fn default() -> Self {
        Self {
            tolerance: 1e-9,
            max_iterations: 100,
        }
    }
}

/// A model's style-controlled rating with its sandwich 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StyleRow {
    pub model: String,
    pub rating: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
    pub rank: usize,
    pub votes: u64,
}

/// A style coefficient: Elo points a one-standard-deviation style difference is worth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StyleCoefficient {
    pub feature: String,
    pub elo: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StyleFit {
    /// Best first.
    pub rows: Vec<StyleRow>,
    pub coefficients: Vec<StyleCoefficient>,
    pub iterations: usize,
    pub gradient_norm: f64,
    pub votes: u64,
}

/// A vote's row of the design: up to two model columns and the style columns.
struct Design {
    cols: [(usize, f64); 6],
    len: usize,
}

impl Design {
    fn iter(&self) -> impl Iterator<Item = &(usize, f64)> {
        self.cols[..self.len].iter()
    }
}

/// Fits the style-controlled ranking of `votes` over `models` (models without votes are left
/// out of the result).
pub fn fit_style(
    models: &[String],
    votes: &[StyledVote],
    options: &StyleOptions,
) -> Result<StyleFit, RatingError> {
    if votes.is_empty() {
        return Err(RatingError::NoVotes);
    }
    if let Some(v) = votes
        .iter()
        .find(|v| v.model_a as usize >= models.len() || v.model_b as usize >= models.len())
    {
        return Err(RatingError::InvalidOption(format!(
            "vote refers to model {} of {}",
            v.model_a.max(v.model_b),
            models.len()
        )));
    }
    if let Some(v) = votes.iter().find(|v| v.model_a == v.model_b) {
        return Err(RatingError::SelfComparison {
            model: models[v.model_a as usize].clone(),
        });
    }
    // Only models with votes are parameters.
    let mut position = vec![usize::MAX; models.len()];
    let mut used = Vec::new();
    for v in votes {
        for m in [v.model_a as usize, v.model_b as usize] {
            if position[m] == usize::MAX {
                position[m] = 0;
                used.push(m);
            }
        }
    }
    used.sort_by(|&x, &y| models[x].cmp(&models[y]));
    for (i, &m) in used.iter().enumerate() {
        position[m] = i;
    }
    let n = used.len();
    // Normalised differences, then standardised; constant features dropped.
    let diff = |v: &StyledVote, f: usize| -> f64 {
        let (a, b) = (
            f64::from(v.style_a[f].max(0.0)),
            f64::from(v.style_b[f].max(0.0)),
        );
        if a + b > 0.0 { (a - b) / (a + b) } else { 0.0 }
    };
    let count = votes.len() as f64;
    let mut kept = Vec::new();
    let mut scale = Vec::new();
    for f in 0..4 {
        let mean = votes.iter().map(|v| diff(v, f)).sum::<f64>() / count;
        let var = votes
            .iter()
            .map(|v| (diff(v, f) - mean).powi(2))
            .sum::<f64>()
            / count;
        if var > 1e-12 {
            kept.push(f);
            scale.push((mean, var.sqrt()));
        }
    }
    let k = kept.len();
    // Parameters: θ1..θ(n-1) (θ0 = 0), then β.
    let p = n - 1 + k;
    let design = |v: &StyledVote| -> Design {
        let mut d = Design {
            cols: [(0, 0.0); 6],
            len: 0,
        };
        let (a, b) = (position[v.model_a as usize], position[v.model_b as usize]);
        if a > 0 {
            d.cols[d.len] = (a - 1, 1.0);
            d.len += 1;
        }
        if b > 0 {
            d.cols[d.len] = (b - 1, -1.0);
            d.len += 1;
        }
        for (j, (&f, (m, s))) in kept.iter().zip(&scale).enumerate() {
            d.cols[d.len] = (n - 1 + j, (diff(v, f) - m) / s);
            d.len += 1;
        }
        d
    };
    let target = |v: &StyledVote| match v.outcome {
        Outcome::WinA => 1.0,
        Outcome::WinB => 0.0,
        Outcome::Tie | Outcome::BothBad => 0.5,
    };
    let eta = |w: &[f64], d: &Design| -> f64 { d.iter().map(|&(i, x)| w[i] * x).sum() };
    let log_lik = |w: &[f64]| -> f64 {
        votes
            .iter()
            .map(|v| {
                let z = eta(w, &design(v));
                let y = target(v);
                -(y * softplus(-z) + (1.0 - y) * softplus(z))
            })
            .sum()
    };
    let mut w = vec![0.0; p];
    let mut iterations = 0;
    let mut gradient_norm;
    let mut hessian;
    let mut converged = false;
    loop {
        let mut grad = vec![0.0; p];
        hessian = Matrix::zeros(p);
        for v in votes {
            let d = design(v);
            let s = sigmoid(eta(&w, &d));
            let (g, h) = (target(v) - s, s * (1.0 - s));
            for &(i, xi) in d.iter() {
                grad[i] += g * xi;
                for &(j, xj) in d.iter() {
                    hessian.add(i, j, h * xi * xj);
                }
            }
        }
        gradient_norm = dot(&grad, &grad).sqrt();
        if gradient_norm <= options.tolerance * count {
            converged = true;
            break;
        }
        if iterations >= options.max_iterations {
            break;
        }
        let Some(chol) = Cholesky::new(&hessian) else {
            return Err(RatingError::NotConverged {
                iterations,
                gradient_norm,
            });
        };
        let mut step = grad.clone();
        chol.solve_in_place(&mut step);
        // The Newton decrement gᵀH⁻¹g/2 is the log-likelihood still to gain: once it is
        // below the precision of a sum of `count` terms, the fit is at its optimum whatever
        // the raw gradient says (a gradient of 6e-9 over a few votes was reported as "did not
        // converge", the stopping rule's fault).
        if dot(&grad, &step) / 2.0 <= f64::EPSILON * count.max(1.0) {
            converged = true;
            break;
        }
        // Step halving: the log-likelihood must not fall.
        let before = log_lik(&w);
        let mut t = 1.0;
        loop {
            let trial: Vec<f64> = w.iter().zip(&step).map(|(x, s)| x + t * s).collect();
            if log_lik(&trial) >= before - 1e-12 * before.abs() || t < 1e-8 {
                w = trial;
                break;
            }
            t /= 2.0;
        }
        iterations += 1;
        if w.iter().any(|x| x.abs() > 50.0) {
            // A model that never lost (or never won): no finite rating.
            return Err(RatingError::NotConverged {
                iterations,
                gradient_norm,
            });
        }
    }
    if !converged {
        return Err(RatingError::NotConverged {
            iterations,
            gradient_norm,
        });
    }
    // Sandwich covariance H⁻¹ G H⁻¹, G = Σ g gᵀ over votes.
    let chol = Cholesky::new(&hessian).ok_or(RatingError::NotConverged {
        iterations,
        gradient_norm,
    })?;
    let h_inv = chol.inverse();
    let mut meat = Matrix::zeros(p);
    let mut votes_of = vec![0u64; n];
    for v in votes {
        let d = design(v);
        let g = target(v) - sigmoid(eta(&w, &d));
        for &(i, xi) in d.iter() {
            for &(j, xj) in d.iter() {
                meat.add(i, j, g * g * xi * xj);
            }
        }
        votes_of[position[v.model_a as usize]] += 1;
        votes_of[position[v.model_b as usize]] += 1;
    }
    let cov = h_inv.mul(&meat).mul(&h_inv);
    // θ with θ0 = 0, centred: θc = C θfree; var(θc_m) = c_mᵀ Σθθ c_m.
    let theta: Vec<f64> = std::iter::once(0.0)
        .chain(w[..n - 1].iter().copied())
        .collect();
    let mean = theta.iter().sum::<f64>() / n as f64;
    let mut out: Vec<StyleRow> = (0..n)
        .map(|m| {
            // Coefficients of θc_m on the free θ's (index i ↔ model i + 1).
            let c: Vec<f64> = (1..n)
                .map(|i| f64::from(u8::from(i == m)) - 1.0 / n as f64)
                .collect();
            let mut var = 0.0;
            for i in 0..n - 1 {
                for j in 0..n - 1 {
                    var += c[i] * cov.get(i, j) * c[j];
                }
            }
            let rating = BASE_RATING + ELO_PER_NATURAL_UNIT * (theta[m] - mean);
            let h = Z_95 * ELO_PER_NATURAL_UNIT * var.max(0.0).sqrt();
            StyleRow {
                model: models[used[m]].clone(),
                rating,
                ci_lower: rating - h,
                ci_upper: rating + h,
                rank: 0,
                votes: votes_of[m],
            }
        })
        .collect();
    let bounds: Vec<(f64, f64)> = out.iter().map(|r| (r.ci_lower, r.ci_upper)).collect();
    for r in &mut out {
        r.rank = 1 + bounds.iter().filter(|(lo, _)| *lo > r.ci_upper).count();
    }
    out.sort_by(|x, y| y.rating.total_cmp(&x.rating).then(x.model.cmp(&y.model)));
    let coefficients = kept
        .iter()
        .enumerate()
        .map(|(j, &f)| {
            let i = n - 1 + j;
            let elo = ELO_PER_NATURAL_UNIT * w[i];
            let h = Z_95 * ELO_PER_NATURAL_UNIT * cov.get(i, i).max(0.0).sqrt();
            StyleCoefficient {
                feature: FEATURES[f].to_owned(),
                elo,
                ci_lower: elo - h,
                ci_upper: elo + h,
            }
        })
        .collect();
    Ok(StyleFit {
        rows: out,
        coefficients,
        iterations,
        gradient_norm,
        votes: votes.len() as u64,
    })
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^z), without overflow.
fn softplus(z: f64) -> f64 {
    if z > 30.0 { z } else { z.exp().ln_1p() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Votes between four models of known strength whose voters also like length: "verbose"
    /// is the weakest but writes twice as much. `bias`: natural units per standardised length
    /// difference.
    const MODELS: [(&str, f64, f32); 4] = [
        ("strong", 0.6, 200.0),
        ("good", 0.3, 200.0),
        ("fair", 0.0, 200.0),
        ("verbose", -0.3, 450.0),
    ];

    fn names() -> Vec<String> {
        MODELS.iter().map(|m| m.0.to_owned()).collect()
    }

    fn planted(bias: f64, votes: usize, seed: u64, ties: f64) -> Vec<StyledVote> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..votes)
            .map(|_| {
                let i = rng.random_range(0..4);
                let j = (i + rng.random_range(1..4)) % 4;
                let (_, ta, la) = MODELS[i];
                let (_, tb, lb) = MODELS[j];
                let la = la * rng.random_range(0.7..1.3);
                let lb = lb * rng.random_range(0.7..1.3);
                // The length effect on the normalised difference (≈ its scale in the data).
                let d = f64::from((la - lb) / (la + lb)) / 0.3;
                let p = sigmoid(ta - tb + bias * d);
                let u: f64 = rng.random();
                let outcome = if u < ties {
                    Outcome::Tie
                } else if rng.random::<f64>() < p {
                    Outcome::WinA
                } else {
                    Outcome::WinB
                };
                StyledVote {
                    model_a: i as u32,
                    model_b: j as u32,
                    outcome,
                    style_a: [la, 1.0, 2.0, 0.0],
                    style_b: [lb, 1.0, 2.0, 0.0],
                }
            })
            .collect()
    }

    fn rating(fit: &StyleFit, m: &str) -> f64 {
        fit.rows.iter().find(|r| r.model == m).unwrap().rating
    }

    /// The plain fit puts the verbose model above a better one; style control puts it back
    /// last, finds the planted length coefficient (positive, its interval excluding 0), and
    /// drops the features that never vary.
    #[test]
    fn style_control_recovers_a_planted_length_bias() {
        let votes = planted(0.8, 20_000, 7, 0.0);
        let mut plain = crate::Comparisons::new();
        let models = names();
        for v in &votes {
            plain
                .add(
                    &models[v.model_a as usize],
                    &models[v.model_b as usize],
                    crate::PairCounts::of(v.outcome),
                )
                .unwrap();
        }
        let ml = crate::fit(&plain, &crate::FitOptions::default()).unwrap();
        let r = |m: &str| ml.row(m).unwrap().rating.unwrap();
        assert!(r("verbose") > r("fair"), "the bias shows in the plain fit");
        let fit = fit_style(&names(), &votes, &StyleOptions::default()).unwrap();
        let order: Vec<&str> = fit.rows.iter().map(|r| r.model.as_str()).collect();
        assert_eq!(order, ["strong", "good", "fair", "verbose"]);
        assert_eq!(fit.coefficients.len(), 1, "{:?}", fit.coefficients);
        let length = &fit.coefficients[0];
        assert_eq!(length.feature, "length");
        assert!(length.ci_lower > 0.0, "{length:?}");
        // True gaps (natural units × 173.7): strong − verbose = 0.9 → 156 Elo.
        let gap = rating(&fit, "strong") - rating(&fit, "verbose");
        assert!((gap - 156.0).abs() < 25.0, "{gap}");
        for row in &fit.rows {
            assert!(row.ci_lower < row.rating && row.rating < row.ci_upper);
        }
    }

    /// Without a style effect, the coefficient's interval covers 0 and the ranking is the
    /// plain one.
    #[test]
    fn a_fit_at_its_optimum_converges_whatever_the_gradient_tolerance() {
        // The page said "did not converge: gradient norm 6.13e-9": the fit was at its optimum
        // and only the gradient rule was too strict. With a tolerance no sum of floats can
        // meet, the Newton decrement still stops it, at the same ratings.
        let votes = planted(0.8, 400, 5, 0.2);
        let usual = fit_style(&names(), &votes, &StyleOptions::default()).unwrap();
        let strict = fit_style(
            &names(),
            &votes,
            &StyleOptions {
                tolerance: 1e-30,
                max_iterations: 100,
            },
        )
        .unwrap();
        for m in names() {
            assert!(
                (rating(&usual, &m) - rating(&strict, &m)).abs() < 1e-6,
                "{m}"
            );
        }
        assert!(strict.iterations < 100, "{}", strict.iterations);
    }

    #[test]
    fn no_bias_no_coefficient() {
        let votes = planted(0.0, 20_000, 11, 0.1);
        let fit = fit_style(&names(), &votes, &StyleOptions::default()).unwrap();
        let length = &fit.coefficients[0];
        assert!(length.ci_lower < 0.0 && length.ci_upper > 0.0, "{length:?}");
        let order: Vec<&str> = fit.rows.iter().map(|r| r.model.as_str()).collect();
        assert_eq!(order, ["strong", "good", "fair", "verbose"]);
    }

    #[test]
    fn nothing_to_fit_is_an_error() {
        assert!(matches!(
            fit_style(&names(), &[], &StyleOptions::default()),
            Err(RatingError::NoVotes)
        ));
    }
}
