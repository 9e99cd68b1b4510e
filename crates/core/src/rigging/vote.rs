//! The defences in the vote's transaction: the cap, the score and the sequential test, the
//! script signals, and quarantine.

use super::{DETECTOR, Predictor, QUARANTINE_REASON, RiggingSettings, outcome};
use crate::error::{ArenaError, ArenaResult};
use arena_domain::Winner;
use arena_ratings::rigging::{EvidenceOptions, VoterEvidence};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

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
