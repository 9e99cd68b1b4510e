//! A fit of the counts: the maximum-likelihood ratings with their intervals (a small ridge when
//! the votes are too few for a finite fit, and the run says so), each model's Bayesian standing
//! (provisional until its credible interval is narrow enough), the ranks, and the pairwise
//! matrices of the heatmaps.

use super::{Computed, FALLBACK_RIDGE, KeyedCounts, Listed, Spec};
use crate::error::{ArenaError, ArenaResult};
use arena_domain::api::LeaderboardEntry;
use arena_ratings::provisional::{ProvisionalOptions, Standing, standings};
use arena_ratings::{Comparisons, FitOptions, fit};
use std::collections::HashMap;

/// One bootstrap (or style fit, [`super::style`]) at a time: an arena-sized one keeps both cores busy for a second or two, and
/// the page is public.
pub(super) static BOOTSTRAP_SLOT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Fits `counts` over the `listed` models (on a blocking thread: a bootstrap takes a while).
pub(crate) async fn compute(
    listed: Vec<Listed>,
    counts: KeyedCounts,
    spec: Spec,
) -> ArenaResult<Computed> {
    let _slot = match spec.bootstrap {
        Some(_) => Some(
            BOOTSTRAP_SLOT
                .acquire()
                .await
                .map_err(|e| ArenaError::Internal(e.to_string()))?,
        ),
        None => None,
    };
    tokio::task::spawn_blocking(move || compute_blocking(&listed, &counts, &spec))
        .await
        .map_err(|e| ArenaError::Internal(e.to_string()))?
}

pub(super) fn compute_blocking(
    listed: &[Listed],
    counts: &KeyedCounts,
    spec: &Spec,
) -> ArenaResult<Computed> {
    let mut comparisons = Comparisons::new();
    for m in listed {
        comparisons.register(&m.key);
    }
    for (a, b, c) in counts {
        comparisons
            .add(a, b, *c)
            .map_err(|e| ArenaError::Internal(e.to_string()))?;
    }
    let options = spec.options();
    let (board, mut warnings, ridge) = match fit(&comparisons, &options) {
        Ok(board) => (Some(board), Vec::new(), 0.0),
        // Too few votes for a finite maximum-likelihood fit (a model that never lost, a
        // disconnected graph): a small ridge keeps the view honest, and it says so.
        Err(e) => {
            let ridged = FitOptions {
                ridge: FALLBACK_RIDGE,
                ..options
            };
            match fit(&comparisons, &ridged) {
                Ok(board) => (
                    Some(board),
                    vec![format!(
                        "{e}; shown with a small ridge penalty ({FALLBACK_RIDGE})"
                    )],
                    FALLBACK_RIDGE,
                ),
                Err(e2) => (None, vec![e2.to_string()], 0.0),
            }
        }
    };
    if let Some(b) = &board {
        warnings.extend(b.diagnostics.warnings.iter().cloned());
    }
    // The Bayesian standing of every model: who is provisional, and the posterior shown for it.
    let standings: HashMap<String, Standing> = match standings(&comparisons, &PROVISIONAL) {
        Ok(s) => s.into_iter().map(|s| (s.model.clone(), s)).collect(),
        Err(e) => {
            warnings.push(format!("no Bayesian standing: {e}"));
            HashMap::new()
        }
    };
    let mut entries: Vec<LeaderboardEntry> = listed
        .iter()
        .map(|m| {
            let row = board.as_ref().and_then(|b| b.row(&m.key));
            let standing = standings.get(&m.key);
            LeaderboardEntry {
                rank: None,
                model: m.key.clone(),
                display_name: m.display_name.clone(),
                organization: m.organization.clone(),
                license: m.license.clone(),
                rating: row.and_then(|r| r.rating),
                ci_lower: row.and_then(|r| r.ci_lower),
                ci_upper: row.and_then(|r| r.ci_upper),
                votes: row.map_or(0, |r| r.votes),
                provisional: standing.is_none_or(|s| s.provisional),
                votes_to_rank: standing.and_then(|s| s.votes_to_rank),
                posterior_rating: standing.map(|s| s.rating),
                credible_lower: standing.map(|s| s.lower),
                credible_upper: standing.map(|s| s.upper),
            }
        })
        .collect();
    rank_entries(&mut entries);
    let index: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.model.as_str(), i))
        .collect();
    let n = entries.len();
    let mut battles = vec![vec![0u64; n]; n];
    let mut score = vec![vec![0f64; n]; n];
    for (a, b, c) in counts {
        let (Some(&i), Some(&j)) = (index.get(a.as_str()), index.get(b.as_str())) else {
            continue;
        };
        let half = c.all_ties() as f64 / 2.0;
        battles[i][j] += c.total();
        battles[j][i] += c.total();
        score[i][j] += c.wins_a as f64 + half;
        score[j][i] += c.wins_b as f64 + half;
    }
    let win_rate = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| (battles[i][j] > 0).then(|| score[i][j] / battles[i][j] as f64))
                .collect()
        })
        .collect();
    Ok(Computed {
        entries,
        warnings,
        battles,
        win_rate,
        tie_parameter: board.and_then(|b| b.diagnostics.tie_parameter),
        ridge,
    })
}

/// The provisional rule of every run (recorded in its parameters).
pub(crate) const PROVISIONAL: ProvisionalOptions = ProvisionalOptions {
    prior_sd: 200.0,
    ranked_half_width: 50.0,
};

/// Ranked models first (by rating, ranked among themselves: 1 + the ranked models whose interval
/// lies wholly above), then the provisional ones by posterior (those with votes first), then the
/// models with no rating at all.
pub(super) fn rank_entries(entries: &mut [LeaderboardEntry]) {
    let ranked = |e: &LeaderboardEntry| !e.provisional && e.rating.is_some();
    let group = |e: &LeaderboardEntry| {
        if ranked(e) {
            0
        } else if e.votes > 0 {
            1
        } else {
            2
        }
    };
    let shown = |e: &LeaderboardEntry| {
        if ranked(e) {
            e.rating
        } else {
            e.posterior_rating
        }
        .unwrap_or(f64::NEG_INFINITY)
    };
    entries.sort_by(|a, b| {
        group(a)
            .cmp(&group(b))
            .then_with(|| shown(b).total_cmp(&shown(a)))
            .then_with(|| a.model.cmp(&b.model))
    });
    let bounds: Vec<(f64, f64)> = entries
        .iter()
        .filter(|e| ranked(e))
        .map(|e| {
            let r = e.rating.unwrap_or_default();
            (e.ci_lower.unwrap_or(r), e.ci_upper.unwrap_or(r))
        })
        .collect();
    for e in entries.iter_mut().filter(|e| ranked(e)) {
        let r = e.rating.unwrap_or_default();
        let upper = e.ci_upper.unwrap_or(r);
        e.rank = Some(1 + bounds.iter().filter(|(lo, _)| *lo > upper).count());
    }
}
