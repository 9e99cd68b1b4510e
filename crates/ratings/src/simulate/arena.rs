//! One simulated arena under a pairing policy: votes drawn batch by batch, refitted after each
//! batch (uniform or active sampling).

use super::*;
/// A uniformly random unordered pair `(a, b)`, `a < b`.
pub(super) fn uniform_pair(m: usize, rng: &mut impl Rng) -> (usize, usize) {
    let a = rng.random_range(0..m);
    let mut b = rng.random_range(0..m - 1);
    if b >= a {
        b += 1;
    }
    (a.min(b), a.max(b))
}

pub(super) fn validate_sampling(sampling: &Sampling, batch: u64) -> Result<(), RatingError> {
    if let Sampling::Active(options) = sampling {
        options.validate()?;
    }
    if batch == 0 {
        return Err(RatingError::InvalidOption("batch must be ≥ 1".into()));
    }
    Ok(())
}

/// One simulated arena: true strengths, the votes so far (per pair, in the
/// order of [`pair_index`]) and the latest fit.
pub(super) struct SimulatedArena<'a> {
    pub(super) theta: &'a [f64],
    pub(super) tie_rate: f64,
    pub(super) counts: Vec<PairCounts>,
    pub(super) votes: u64,
    /// Current estimate of θ (natural units), what active sampling reads.
    pub(super) estimate: Vec<f64>,
    /// The latest fit with sandwich intervals, when it had a finite MLE.
    pub(super) board: Option<Leaderboard>,
}

impl<'a> SimulatedArena<'a> {
    pub(super) fn new(theta: &'a [f64], tie_rate: f64) -> Self {
        Self {
            theta,
            tie_rate,
            counts: vec![PairCounts::default(); pair_count(theta.len())],
            votes: 0,
            estimate: vec![0.0; theta.len()],
            board: None,
        }
    }

    pub(super) fn comparisons(&self) -> Comparisons {
        let m = self.theta.len();
        let mut c = Comparisons::new();
        for k in 0..m {
            c.register(&model_name(k));
        }
        let mut k = 0;
        for a in 0..m {
            for b in a + 1..m {
                if self.counts[k].total() > 0 {
                    c.add(&model_name(a), &model_name(b), self.counts[k])
                        .expect("distinct models, counts far from overflow");
                }
                k += 1;
            }
        }
        c
    }

    /// Draws votes in batches of `batch` under `sampling` until `max_votes`,
    /// refitting after each batch; with `target_width`, stops as soon as every
    /// model is rated and the widest 95% interval is narrower. Returns whether
    /// the target was reached.
    pub(super) fn run(
        &mut self,
        sampling: &Sampling,
        batch: u64,
        max_votes: u64,
        target_width: Option<f64>,
        rng: &mut impl Rng,
    ) -> bool {
        let m = self.theta.len();
        let mut batch_counts = vec![0u64; self.counts.len()];
        let mut cumulative = vec![0.0f64; self.counts.len()];
        while self.votes < max_votes {
            let size = batch.min(max_votes - self.votes);
            batch_counts.iter_mut().for_each(|c| *c = 0);
            match sampling {
                Sampling::Uniform => {
                    for _ in 0..size {
                        let (a, b) = uniform_pair(m, rng);
                        batch_counts[pair_index(m, a, b).expect("a < b < m")] += 1;
                    }
                }
                Sampling::Active(options) => {
                    let votes = self.pair_votes();
                    let pairs = pair_probabilities(&self.estimate, &votes, options)
                        .expect("options validated, estimates finite");
                    let mut sum = 0.0;
                    for (c, p) in cumulative.iter_mut().zip(&pairs) {
                        sum += p.probability;
                        *c = sum;
                    }
                    for _ in 0..size {
                        let u = rng.random::<f64>() * sum;
                        let k = cumulative.partition_point(|&c| c <= u);
                        batch_counts[k.min(cumulative.len() - 1)] += 1;
                    }
                }
            }
            let mut k = 0;
            for a in 0..m {
                for b in a + 1..m {
                    if batch_counts[k] > 0 {
                        let drawn = draw_pair_outcomes(
                            batch_counts[k],
                            self.theta[a],
                            self.theta[b],
                            self.tie_rate,
                            rng,
                        );
                        self.counts[k] = self.counts[k]
                            .checked_add(&drawn)
                            .expect("counts far from overflow");
                    }
                    k += 1;
                }
            }
            self.votes += size;
            let needs_fit = target_width.is_some() || matches!(sampling, Sampling::Active(_));
            if needs_fit {
                self.refit(target_width.is_some());
            }
            if let (Some(target), Some(board)) = (target_width, &self.board)
                && board.diagnostics.rated_models == m
                && widest_interval(board) < target
            {
                return true;
            }
        }
        false
    }

    pub(super) fn pair_votes(&self) -> Vec<crate::active::PairVotes> {
        let m = self.theta.len();
        let mut out = Vec::with_capacity(self.counts.len());
        let mut k = 0;
        for a in 0..m {
            for b in a + 1..m {
                let votes = self.counts[k].total();
                if votes > 0 {
                    out.push(crate::active::PairVotes { a, b, votes });
                }
                k += 1;
            }
        }
        out
    }

    /// Fits the votes so far (exact MLE, with sandwich intervals when
    /// `intervals`); early on, when the MLE is infinite, a small ridge keeps
    /// the estimate finite (and there is no leaderboard to stop on).
    pub(super) fn refit(&mut self, intervals: bool) {
        let c = self.comparisons();
        let exact = FitOptions {
            ci: if intervals {
                CiMethod::Sandwich
            } else {
                CiMethod::None
            },
            ..FitOptions::default()
        };
        self.board = fit(&c, &exact).ok();
        let estimate_from = match &self.board {
            Some(board) => Some(board.clone()),
            None => fit(
                &c,
                &FitOptions {
                    ridge: 0.01,
                    ..FitOptions::default()
                },
            )
            .ok(),
        };
        if let Some(board) = estimate_from {
            for (k, t) in self.estimate.iter_mut().enumerate() {
                *t = board
                    .rating(&model_name(k))
                    .map_or(0.0, |r| (r - BASE_RATING) / ELO_PER_NATURAL_UNIT);
            }
        }
    }
}

/// The widest 95% interval of a leaderboard (upper − lower, Elo points).
pub(super) fn widest_interval(board: &Leaderboard) -> f64 {
    board
        .rows
        .iter()
        .filter_map(|r| Some(r.ci_upper? - r.ci_lower?))
        .fold(0.0, f64::max)
}
