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

use crate::Arena;
use crate::admin::Admin;
use crate::catalog::Catalog;
use crate::error::{ArenaError, ArenaResult};
use arena_domain::Winner;
use arena_domain::admin::QuarantinedVoter;
use arena_ratings::Outcome;
use arena_ratings::rigging::{EvidenceOptions, TiePrediction, VoterEvidence};
use serde::Deserialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The void reason of quarantined votes (only these come back when the voter is cleared).
pub const QUARANTINE_REASON: &str = "quarantine";
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
    ratings: HashMap<Uuid, f64>,
    /// Model keys (the evidence and the queue name models by key).
    keys: HashMap<Uuid, String>,
    prediction: TiePrediction,
    models: usize,
}

impl Predictor {
    /// The probability of `winner` in a battle of `a` against `b` (None: a model is unrated).
    pub fn surprise(&self, a: Uuid, b: Uuid, winner: Winner) -> Option<f64> {
        let p = self
            .prediction
            .probabilities(*self.ratings.get(&a)?, *self.ratings.get(&b)?);
        Some(p.of(outcome(winner)))
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
    let ratings: HashMap<Uuid, f64> = view
        .entries
        .iter()
        .filter_map(|e| Some((*ids.get(&e.model)?, e.rating?)))
        .collect();
    let prediction = match view.tie_parameter {
        Some(nu) => TiePrediction::Davidson { nu },
        None => {
            let pairs: Vec<(Uuid, Uuid, i64, i64)> = sqlx::query_as(
                "select model_a_id, model_b_id, sum(wins_a + wins_b + ties + both_bad)::bigint,
                        sum(ties + both_bad)::bigint
                 from pair_count group by 1, 2",
            )
            .fetch_all(pool)
            .await?;
            TiePrediction::half_from_ties(pairs.into_iter().filter_map(|(a, b, n, t)| {
                Some((
                    *ratings.get(&a)?,
                    *ratings.get(&b)?,
                    u64::try_from(n).ok()?,
                    u64::try_from(t).ok()?,
                ))
            }))
        }
    };
    Ok(Some(Predictor {
        run_id,
        ratings,
        models: ids.len(),
        keys: ids.into_iter().map(|(k, id)| (id, k)).collect(),
        prediction,
    }))
}

/// Whether this voter may still count a vote on the pair `(a, b)` today.
pub(crate) async fn under_cap(
    conn: &mut PgConnection,
    voter: Uuid,
    a: Uuid,
    b: Uuid,
    cap: u32,
) -> ArenaResult<bool> {
    let today: i64 = sqlx::query_scalar(
        "select count(*) from vote v join battle b on b.id = v.battle_id
         where v.voter_id = $1 and v.counted
           and v.created_at >= (date_trunc('day', now() at time zone 'utc') at time zone 'utc')
           and least(b.model_a_id, b.model_b_id) = least($2::uuid, $3::uuid)
           and greatest(b.model_a_id, b.model_b_id) = greatest($2::uuid, $3::uuid)",
    )
    .bind(voter)
    .bind(a)
    .bind(b)
    .fetch_one(conn)
    .await?;
    Ok(today < i64::from(cap))
}

/// One counted vote, as the detector sees it.
pub(crate) struct CountedVote<'a> {
    pub vote_id: i64,
    pub battle_id: Uuid,
    /// The salted hash of the client's address, when it is not exempt.
    pub client_hash: Option<String>,
    pub voter: Uuid,
    pub model_a: Uuid,
    pub model_b: Uuid,
    pub winner: Winner,
    pub predictor: Option<&'a Predictor>,
}

/// After a counted vote is stored (in its transaction): stores its surprise, updates the
/// voter's evidence, and quarantines the voter when the evidence crosses the threshold (or
/// voids the vote at once when the voter is already quarantined).
pub(crate) async fn after_counted_vote(
    conn: &mut PgConnection,
    settings: &RiggingSettings,
    vote: CountedVote<'_>,
) -> ArenaResult<()> {
    if !settings.enabled {
        return Ok(());
    }
    sequential_test(conn, settings, &vote).await?;
    if settings.script_signals {
        let held: Option<String> =
            sqlx::query_scalar("select state from voter_quarantine where voter_id = $1")
                .bind(vote.voter)
                .fetch_optional(&mut *conn)
                .await?;
        if !matches!(held.as_deref(), Some("quarantined" | "confirmed")) {
            script_signals(conn, settings, &vote).await?;
        }
    }
    Ok(())
}

/// The patterns a script leaves, checked after each counted vote of a voter not already held.
/// Heuristics without a proven bound (the thresholds are set far from what people do; see
/// docs/rigging.md), so each names itself in the queue for the admin's decision.
async fn script_signals(
    conn: &mut PgConnection,
    settings: &RiggingSettings,
    vote: &CountedVote<'_>,
) -> ArenaResult<()> {
    let (fast, total): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where read_ms < $2), count(*)
         from vote where voter_id = $1 and counted",
    )
    .bind(vote.voter)
    .bind(settings.fast_vote_ms as i32)
    .fetch_one(&mut *conn)
    .await?;
    if settings.fast_votes > 0 && fast >= i64::from(settings.fast_votes) && fast * 10 >= total * 9 {
        let detail = format!(
            "{fast} of {total} votes came less than {} ms after the last token",
            settings.fast_vote_ms
        );
        quarantine(conn, vote.voter, "unread_votes", &detail, None).await?;
        return Ok(());
    }
    if settings.repeated_prompts > 0 {
        let same: i64 = sqlx::query_scalar(
            "select count(*) from vote v
             join battle_turn t on t.battle_id = v.battle_id and t.turn_index = 0
             where v.voter_id = $1 and v.counted
               and lower(btrim(t.prompt)) = (select lower(btrim(prompt)) from battle_turn
                                             where battle_id = $2 and turn_index = 0)",
        )
        .bind(vote.voter)
        .bind(vote.battle_id)
        .fetch_one(&mut *conn)
        .await?;
        if same >= i64::from(settings.repeated_prompts) {
            let detail = format!("{same} votes on battles that opened with the same prompt");
            quarantine(conn, vote.voter, "repeated_prompt", &detail, None).await?;
            return Ok(());
        }
    }
    if let Some(hash) = &vote.client_hash
        && settings.burst_votes > 0
    {
        let recent: i64 = sqlx::query_scalar(
            "select count(*) from vote
             where client_hash = $1 and created_at > now() - make_interval(mins => $2)",
        )
        .bind(hash)
        .bind(settings.burst_minutes as i32)
        .fetch_one(&mut *conn)
        .await?;
        if recent >= i64::from(settings.burst_votes) {
            let detail = format!(
                "{recent} votes from one client address in {} minutes",
                settings.burst_minutes
            );
            quarantine(conn, vote.voter, "address_burst", &detail, None).await?;
        }
    }
    Ok(())
}

/// The surprise and the sequential test of one counted vote.
async fn sequential_test(
    conn: &mut PgConnection,
    settings: &RiggingSettings,
    vote: &CountedVote<'_>,
) -> ArenaResult<()> {
    let state: Option<String> =
        sqlx::query_scalar("select state from voter_quarantine where voter_id = $1 for update")
            .bind(vote.voter)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(predictor) = vote.predictor else {
        return quarantine_if_held(conn, vote, state.as_deref()).await;
    };
    let Some(surprise) = predictor.surprise(vote.model_a, vote.model_b, vote.winner) else {
        return quarantine_if_held(conn, vote, state.as_deref()).await;
    };
    sqlx::query("update vote set surprise = $2, surprise_run_id = $3 where id = $1")
        .bind(vote.vote_id)
        .bind(surprise)
        .bind(predictor.run_id)
        .execute(&mut *conn)
        .await?;
    if matches!(state.as_deref(), Some("quarantined" | "confirmed")) {
        return quarantine_if_held(conn, vote, state.as_deref()).await;
    }
    let stored: Option<serde_json::Value> =
        sqlx::query_scalar("select evidence from voter_evidence where voter_id = $1 for update")
            .bind(vote.voter)
            .fetch_optional(&mut *conn)
            .await?;
    let mut evidence: VoterEvidence = match stored {
        Some(v) => serde_json::from_value(v).unwrap_or_default(),
        None => VoterEvidence::default(),
    };
    let p = predictor.prediction.probabilities(
        predictor.ratings[&vote.model_a],
        predictor.ratings[&vote.model_b],
    );
    let key = |id: Uuid| {
        predictor
            .keys
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    };
    evidence.observe(
        &key(vote.model_a),
        &key(vote.model_b),
        p,
        outcome(vote.winner),
    );
    let options = EvidenceOptions {
        alpha: settings.alpha,
        models: predictor.models,
    };
    let log_e = evidence.log_e_value(&options);
    sqlx::query(
        "insert into voter_evidence (voter_id, evidence, log_e_value, votes)
         values ($1, $2, $3, $4)
         on conflict (voter_id) do update set evidence = excluded.evidence,
             log_e_value = excluded.log_e_value, votes = excluded.votes, updated_at = now()",
    )
    .bind(vote.voter)
    .bind(serde_json::to_value(&evidence).map_err(|e| ArenaError::Internal(e.to_string()))?)
    .bind(log_e)
    .bind(evidence.votes as i64)
    .execute(&mut *conn)
    .await?;
    if log_e >= options.threshold() {
        let detail = evidence.strongest(&options).to_string();
        quarantine(conn, vote.voter, "sequential_test", &detail, Some(log_e)).await?;
    }
    Ok(())
}

/// A vote by a voter already in quarantine leaves the counts at once.
async fn quarantine_if_held(
    conn: &mut PgConnection,
    vote: &CountedVote<'_>,
    state: Option<&str>,
) -> ArenaResult<()> {
    if matches!(state, Some("quarantined" | "confirmed")) {
        crate::leaderboard::counts::set_voided(
            conn,
            &[vote.vote_id],
            true,
            QUARANTINE_REASON,
            None,
        )
        .await?;
    }
    Ok(())
}

/// Puts a voter in quarantine: every counted vote of theirs leaves the counts (reversibly),
/// the voter enters the queue, and the audit log says why.
pub(crate) async fn quarantine(
    conn: &mut PgConnection,
    voter: Uuid,
    signal: &str,
    detail: &str,
    log_e: Option<f64>,
) -> ArenaResult<i64> {
    sqlx::query(
        "insert into voter_quarantine (voter_id, state, signal, detail, log_e_value)
         values ($1, 'quarantined', $2, $3, $4)
         on conflict (voter_id) do update set state = 'quarantined', signal = excluded.signal,
             detail = excluded.detail, log_e_value = excluded.log_e_value,
             flagged_at = now(), decided_by = null, decided_at = null",
    )
    .bind(voter)
    .bind(signal)
    .bind(detail)
    .bind(log_e)
    .execute(&mut *conn)
    .await?;
    let ids: Vec<i64> =
        sqlx::query_scalar("select id from vote where voter_id = $1 and counted and not voided")
            .bind(voter)
            .fetch_all(&mut *conn)
            .await?;
    let changed =
        crate::leaderboard::counts::set_voided(conn, &ids, true, QUARANTINE_REASON, None).await?;
    sqlx::query(
        "insert into audit_log (actor_id, actor, action, target, before, after)
         values (null, $1, 'voter.quarantine', $2, null, $3)",
    )
    .bind(DETECTOR)
    .bind(format!("voter:{voter}"))
    .bind(
        json!({ "signal": signal, "detail": detail, "log_e_value": log_e,
                  "votes_voided": changed }),
    )
    .execute(&mut *conn)
    .await?;
    tracing::warn!(%voter, signal, detail, votes = changed, "voter quarantined");
    Ok(changed)
}

#[derive(sqlx::FromRow)]
struct QueueRow {
    voter_id: Uuid,
    state: String,
    signal: String,
    detail: String,
    log_e_value: Option<f64>,
    flagged_at: chrono::DateTime<chrono::Utc>,
    votes_held: i64,
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

impl Admin {
    /// The quarantine queue: voters waiting for a decision first, then decided ones.
    pub async fn quarantine_queue(&self, limit: i64) -> ArenaResult<Vec<QuarantinedVoter>> {
        let rows: Vec<QueueRow> = sqlx::query_as(
            "select q.voter_id, q.state, q.signal, q.detail, q.log_e_value, q.flagged_at,
                    (select count(*) from vote v where v.voter_id = q.voter_id and v.voided
                       and v.void_reason = 'quarantine') as votes_held
             from voter_quarantine q
             order by q.state <> 'quarantined', q.flagged_at desc limit $1",
        )
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.arena.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| QuarantinedVoter {
                voter_id: r.voter_id.to_string(),
                state: r.state,
                signal: r.signal,
                detail: r.detail,
                log_e_value: r.log_e_value,
                flagged_at: r.flagged_at.to_rfc3339(),
                votes_held: r.votes_held,
            })
            .collect())
    }

    /// Confirms (`confirm = true`: the votes stay out) or clears (they come back and the
    /// voter's evidence starts again) a quarantined voter. Returns how many votes changed.
    pub async fn decide_quarantine(
        &self,
        voter: &str,
        confirm: bool,
        reason: &str,
    ) -> ArenaResult<i64> {
        let voter: Uuid = voter
            .trim()
            .parse()
            .map_err(|_| ArenaError::NotFound { what: "voter" })?;
        let mut tx = self.arena.pool.begin().await?;
        let before: Option<String> =
            sqlx::query_scalar("select state from voter_quarantine where voter_id = $1 for update")
                .bind(voter)
                .fetch_optional(&mut *tx)
                .await?;
        let before = before.ok_or(ArenaError::NotFound {
            what: "quarantined voter",
        })?;
        let state = if confirm { "confirmed" } else { "cleared" };
        sqlx::query(
            "update voter_quarantine set state = $2, decided_by = $3, decided_at = now()
             where voter_id = $1",
        )
        .bind(voter)
        .bind(state)
        .bind(self.actor.user_id)
        .execute(&mut *tx)
        .await?;
        let mut changed = 0;
        if !confirm {
            let ids: Vec<i64> = sqlx::query_scalar(
                "select id from vote where voter_id = $1 and voided and void_reason = $2",
            )
            .bind(voter)
            .bind(QUARANTINE_REASON)
            .fetch_all(&mut *tx)
            .await?;
            changed = crate::leaderboard::counts::set_voided(
                &mut tx,
                &ids,
                false,
                reason,
                Some(self.actor.user_id),
            )
            .await?;
            sqlx::query("delete from voter_evidence where voter_id = $1")
                .bind(voter)
                .execute(&mut *tx)
                .await?;
        }
        crate::admin::audit(
            &mut tx,
            &self.actor,
            if confirm {
                "voter.quarantine.confirm"
            } else {
                "voter.quarantine.clear"
            },
            &format!("voter:{voter}"),
            Some(json!({ "state": before })),
            Some(json!({ "state": state, "reason": reason, "votes_restored": changed })),
        )
        .await?;
        tx.commit().await?;
        Ok(changed)
    }
}
