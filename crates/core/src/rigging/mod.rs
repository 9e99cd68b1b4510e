//! Rigging defences in the vote path (issue #12; the statistics are in
//! `arena_ratings::rigging`, see docs/rigging.md). This module owns their SQL.
//!
//! - **Influence cap.** At most `rigging.cap_per_pair_per_day` counted votes per voter per
//!   unordered model pair per UTC day; the rest are stored (`vote.capped`), not counted.
//! - **Surprise.** Each counted vote stores the probability of its outcome under the latest
//!   stored default run (`vote.surprise`, `vote.surprise_run_id`), read from a per-process
//!   cache of that run's ratings; no refit per vote.
//! - **Sequential test.** The voter's evidence (`voter_evidence`) is updated in the vote's
//!   transaction; when it reaches `1/rigging.alpha` the voter is quarantined.
//! - **Quarantine.** All the voter's counted votes are voided with reason `quarantine` in the
//!   same transaction (the counts change with them; `vote_void` events let every rating run's
//!   snapshot say which state it used), later votes are voided as they come, the voter sees
//!   nothing different, and the voter waits in the queue (`voter_quarantine`) for an admin to
//!   confirm (votes stay out) or clear (votes come back, evidence starts again). Every step is
//!   in the audit log.

mod queue;
mod vote;
pub(crate) use vote::{CountedVote, after_counted_vote, is_held, quarantine, under_cap};

use crate::Arena;
use crate::catalog::Catalog;
use crate::error::{ArenaError, ArenaResult};
use arena_domain::Winner;
use arena_ratings::Outcome;
use arena_ratings::rigging::{OutcomeProbabilities, TiePrediction, predictive_ratings};
use serde::Deserialize;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The signals that quarantine a voter (the address burst puts voters up for review instead).
pub const SIGNALS: &[&str] = &["sequential_test", "unread_votes", "repeated_prompt"];

/// The void reason of quarantined votes (only these come back when the voter is cleared).
pub const QUARANTINE_REASON: &str = "quarantine";
/// The standard error (Elo) of a rating the run gives no interval for.
const UNKNOWN_SE: f64 = 1000.0;
/// The audit log's actor for the detector's own actions.
const DETECTOR: &str = "rigging-detector";

/// `[rigging]` in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RiggingSettings {
    /// Score votes and quarantine flagged voters (the cap applies regardless).
    pub enabled: bool,
    /// The sequential test's false-positive rate per honest voter (over all their votes).
    pub alpha: f64,
    /// Counted votes per voter per model pair per UTC day; later ones are stored, not counted.
    pub cap_per_pair_per_day: u32,
    /// How long a process reuses the latest run's ratings before reading them again.
    pub ratings_cache_secs: u64,
    /// The patterns a script leaves (below); each quarantines like the sequential test.
    pub script_signals: bool,
    /// A vote this soon after the last token is "unread" …
    pub fast_vote_ms: u32,
    /// … and a voter with at least this many counted unread votes, 90 % of their votes or
    /// more, is flagged.
    pub fast_votes: u32,
    /// A voter with this many counted votes on battles that opened with the same prompt.
    pub repeated_prompts: u32,
    /// This many votes from one client address (IPv6: its /64) within `burst_minutes` flag
    /// each voter who votes from it during the burst …
    pub burst_votes: u32,
    pub burst_minutes: u32,
    /// … except from loopback addresses (a reverse proxy without `trusted_proxies` makes
    /// every client look like one).
    pub burst_exempt_loopback: bool,
}

impl Default for RiggingSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            alpha: 0.001,
            cap_per_pair_per_day: 20,
            ratings_cache_secs: 30,
            script_signals: true,
            fast_vote_ms: 300,
            fast_votes: 30,
            repeated_prompts: 10,
            burst_votes: 300,
            burst_minutes: 10,
            burst_exempt_loopback: true,
        }
    }
}

/// The latest stored default run's ratings, as the vote path scores with them.
#[derive(Debug)]
pub struct Predictor {
    pub run_id: i64,
    /// (rating, standard error) in Elo, by model.
    ratings: HashMap<Uuid, (f64, f64)>,
    /// Model keys (the evidence and the queue name models by key).
    keys: HashMap<Uuid, String>,
    prediction: TiePrediction,
    models: usize,
}

impl Predictor {
    /// The predicted outcome of `a` against `b` (None: a model is unrated in the run).
    /// The ratings are estimates: the prediction integrates over their standard errors (a
    /// model with few votes predicts close outcomes, so no honest vote on it is surprising).
    pub fn probabilities(&self, a: Uuid, b: Uuid) -> Option<OutcomeProbabilities> {
        let (ra, sa) = *self.ratings.get(&a)?;
        let (rb, sb) = *self.ratings.get(&b)?;
        Some(
            self.prediction
                .probabilities_uncertain(ra, rb, (sa * sa + sb * sb).sqrt()),
        )
    }
}

fn outcome(w: Winner) -> Outcome {
    match w {
        Winner::ModelA => Outcome::WinA,
        Winner::ModelB => Outcome::WinB,
        Winner::Tie => Outcome::Tie,
        Winner::BothBad => Outcome::BothBad,
    }
}

/// A per-process cache of the [`Predictor`] (read outside any transaction).
#[derive(Debug, Default)]
pub struct PredictorCache {
    slot: Mutex<Option<(Instant, Option<Arc<Predictor>>)>>,
}

impl PredictorCache {
    pub async fn get(
        &self,
        pool: &PgPool,
        catalog: &Catalog,
        max_age: Duration,
    ) -> ArenaResult<Option<Arc<Predictor>>> {
        if let Ok(slot) = self.slot.lock()
            && let Some((at, p)) = slot.as_ref()
            && at.elapsed() < max_age
        {
            return Ok(p.clone());
        }
        let loaded = load(pool, catalog).await?.map(Arc::new);
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((Instant::now(), loaded.clone()));
        }
        Ok(loaded)
    }

    /// Forget the cached ratings (the next vote reads the latest run).
    pub fn invalidate(&self) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = None;
        }
    }
}

async fn load(pool: &PgPool, catalog: &Catalog) -> ArenaResult<Option<Predictor>> {
    let row: Option<(i64, serde_json::Value)> = sqlx::query_as(
        "select id, result from rating_run where refresh and source_id is null
         order by id desc limit 1",
    )
    .fetch_optional(pool)
    .await?;
    let Some((run_id, result)) = row else {
        return Ok(None);
    };
    let view: arena_domain::api::LeaderboardView = serde_json::from_value(result)
        .map_err(|e| ArenaError::Internal(format!("stored run {run_id}: {e}")))?;
    let ids: HashMap<String, Uuid> = catalog.all().into_iter().map(|m| (m.key, m.id)).collect();
    // The standard error from the 95 % interval (the credible one for a provisional model);
    // a model with neither is scored as hopelessly uncertain. Then as a prediction: no more
    // precise than its votes allow, shrunk towards the run's mean, none below 20 votes
    // (`predictive_ratings`).
    let fitted: Vec<(Uuid, (f64, f64, u64))> = view
        .entries
        .iter()
        .filter_map(|e| {
            let rating = e.rating?;
            let se = match (e.ci_lower, e.ci_upper, e.credible_lower, e.credible_upper) {
                (Some(lo), Some(hi), ..) | (.., Some(lo), Some(hi)) => (hi - lo) / (2.0 * 1.96),
                _ => UNKNOWN_SE,
            };
            Some((
                *ids.get(&e.model)?,
                (
                    rating,
                    if se.is_finite() { se } else { UNKNOWN_SE },
                    e.votes,
                ),
            ))
        })
        .collect();
    let scored = predictive_ratings(&fitted.iter().map(|f| f.1).collect::<Vec<_>>());
    // A model with fewer than `MIN_VOTES_TO_SCORE` votes is left out: votes on it are not
    // scored (its rating is no prediction yet).
    let ratings: HashMap<Uuid, (f64, f64)> = fitted
        .iter()
        .map(|f| f.0)
        .zip(scored)
        .filter_map(|(id, s)| Some((id, s?)))
        .collect();
    // The votes of the run's pairs: the tie model's rule of succession needs them (a young
    // arena's first run may have no tie yet; see `TiePrediction::half_from_ties`).
    let pairs: Vec<(Uuid, Uuid, i64, i64)> = sqlx::query_as(
        "select model_a_id, model_b_id, sum(wins_a + wins_b + ties + both_bad)::bigint,
                sum(ties + both_bad)::bigint
         from pair_count group by 1, 2",
    )
    .fetch_all(pool)
    .await?;
    let prediction = match view.tie_parameter {
        Some(nu) => {
            let votes = pairs.iter().map(|p| u64::try_from(p.2).unwrap_or(0)).sum();
            TiePrediction::davidson_from_fit(nu, votes)
        }
        None => TiePrediction::half_from_ties(pairs.into_iter().filter_map(|(a, b, n, t)| {
            Some((
                ratings.get(&a)?.0,
                ratings.get(&b)?.0,
                u64::try_from(n).ok()?,
                u64::try_from(t).ok()?,
            ))
        })),
    };
    Ok(Some(Predictor {
        run_id,
        // The mixture spreads its model alternatives over the run's rated models, not the
        // whole catalog (retired and imported models are no alternative a voter can follow).
        models: fitted.len(),
        ratings,
        keys: ids.into_iter().map(|(k, id)| (id, k)).collect(),
        prediction,
    }))
}

impl Arena {
    /// The latest run's ratings for scoring votes (cached per process).
    pub(crate) async fn predictor(&self) -> ArenaResult<Option<Arc<Predictor>>> {
        if !self.rigging.enabled {
            return Ok(None);
        }
        self.predictor_cache
            .get(
                &self.pool,
                &self.catalog,
                Duration::from_secs(self.rigging.ratings_cache_secs),
            )
            .await
    }

    /// Forget the cached ratings (tests; after a refit the cache refreshes by itself).
    pub fn reload_predictor(&self) {
        self.predictor_cache.invalidate();
    }
}
