//! The defences in the vote's transaction: the cap, the score and the sequential test, the
//! script signals, and quarantine.

use super::{DETECTOR, Predictor, QUARANTINE_REASON, RiggingSettings, outcome};
use crate::error::{ArenaError, ArenaResult};
use arena_domain::Winner;
use arena_ratings::rigging::{EvidenceOptions, VoterEvidence};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The voters of `$1`'s person: every voter of its account when it is signed in, else just
/// itself. The cap, the evidence, the signals and the quarantine all count per person.
pub(crate) const PERSON_VOTERS: &str = "(select $1::uuid union
     select o.id from voter me join voter o on o.user_id = me.user_id where me.id = $1)";

/// The voter that stands for `$1`'s person in the evidence and the queue: the account's first
/// voter when signed in, else itself.
const PERSON: &str = "coalesce((select o.id from voter me join voter o on o.user_id = me.user_id
                                where me.id = $1 order by o.id limit 1), $1::uuid)";

/// Whether this voter may still count a vote on the pair `(a, b)` today. A signed-in voter
/// counts with every other browser of its account (the cap is per person where the arena knows
/// the person). Concurrent votes of one voter (or account) on one pair wait for each other on a
/// transaction-scoped advisory lock, so the count cannot race past the cap.
pub(crate) async fn under_cap(
    conn: &mut PgConnection,
    voter: Uuid,
    a: Uuid,
    b: Uuid,
    cap: u32,
) -> ArenaResult<bool> {
    // The lock first, in its own statement: the count's snapshot is taken after it is held,
    // so it sees the votes of every transaction that held it before (read committed).
    sqlx::query(
        "select pg_advisory_xact_lock(hashtextextended(
             'cap/' || coalesce((select 'u' || user_id::text from voter
                                 where id = $1 and user_id is not null), 'v' || $1::text)
             || '/' || least($2::uuid, $3::uuid)::text
             || '/' || greatest($2::uuid, $3::uuid)::text, 11))",
    )
    .bind(voter)
    .bind(a)
    .bind(b)
    .execute(&mut *conn)
    .await?;
    let today: i64 = sqlx::query_scalar(
        "select count(*) from vote v join battle b on b.id = v.battle_id
         where v.voter_id in (select $1::uuid
                              union all
                              select o.id from voter me join voter o on o.user_id = me.user_id
                              where me.id = $1)
           and v.counted
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

/// Why a voter should be quarantined (acted on after the vote commits).
#[derive(Debug)]
pub(crate) struct Flag {
    pub signal: &'static str,
    pub detail: String,
    pub log_e: Option<f64>,
    /// A signal about an address, not a voter: its voters in the burst window go to the
    /// admins' queue for review, their votes still counted (salted address hash, minutes).
    pub review_address: Option<(String, u32)>,
}

/// Whether the voter's person is held (any of its voters quarantined or confirmed); locks
/// their queue rows.
pub(crate) async fn is_held(conn: &mut PgConnection, voter: Uuid) -> ArenaResult<bool> {
    let states: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select state from voter_quarantine where voter_id in {PERSON_VOTERS} for update"
    )))
    .bind(voter)
    .fetch_all(conn)
    .await?;
    Ok(states
        .iter()
        .any(|s| matches!(s.as_str(), "quarantined" | "confirmed")))
}

/// After a counted vote of a voter not held is stored and counted (in its transaction):
/// stores its surprise, updates the voter's evidence, and checks the script signals. A flag
/// is returned, not acted on: [`quarantine`] runs in its own transaction once the vote has
/// committed, so a vote never waits on other pairs' counts.
pub(crate) async fn after_counted_vote(
    conn: &mut PgConnection,
    settings: &RiggingSettings,
    vote: CountedVote<'_>,
) -> ArenaResult<Option<Flag>> {
    if !settings.enabled {
        return Ok(None);
    }
    if let Some(flag) = sequential_test(conn, settings, &vote).await? {
        return Ok(Some(flag));
    }
    if settings.script_signals {
        return script_signals(conn, settings, &vote).await;
    }
    Ok(None)
}

/// The patterns a script leaves, checked after each counted vote of a voter not already held.
/// Heuristics without a proven bound (the thresholds are set far from what people do; see
/// docs/rigging.md), so each names itself in the queue for the admin's decision.
async fn script_signals(
    conn: &mut PgConnection,
    settings: &RiggingSettings,
    vote: &CountedVote<'_>,
) -> ArenaResult<Option<Flag>> {
    let (fast, total): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select count(*) filter (where read_ms < $2), count(*)
         from vote where voter_id in {PERSON_VOTERS} and counted"
    )))
    .bind(vote.voter)
    .bind(settings.fast_vote_ms as i32)
    .fetch_one(&mut *conn)
    .await?;
    if settings.fast_votes > 0 && fast >= i64::from(settings.fast_votes) && fast * 10 >= total * 9 {
        let detail = format!(
            "{fast} of {total} votes came less than {} ms after the last token",
            settings.fast_vote_ms
        );
        return Ok(Some(Flag {
            signal: "unread_votes",
            detail,
            log_e: None,
            review_address: None,
        }));
    }
    if settings.repeated_prompts > 0 {
        let same: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from vote v
             join battle_turn t on t.battle_id = v.battle_id and t.turn_index = 0
             where v.voter_id in {PERSON_VOTERS} and v.counted
               and lower(btrim(t.prompt)) = (select lower(btrim(prompt)) from battle_turn
                                             where battle_id = $2 and turn_index = 0)"
        )))
        .bind(vote.voter)
        .bind(vote.battle_id)
        .fetch_one(&mut *conn)
        .await?;
        if same >= i64::from(settings.repeated_prompts) {
            let detail = format!("{same} votes on battles that opened with the same prompt");
            return Ok(Some(Flag {
                signal: "repeated_prompt",
                detail,
                log_e: None,
                review_address: None,
            }));
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
            return Ok(Some(Flag {
                signal: "address_burst",
                detail,
                log_e: None,
                review_address: Some((hash.clone(), settings.burst_minutes)),
            }));
        }
    }
    Ok(None)
}

/// The surprise and the sequential test of one counted vote.
async fn sequential_test(
    conn: &mut PgConnection,
    settings: &RiggingSettings,
    vote: &CountedVote<'_>,
) -> ArenaResult<Option<Flag>> {
    let Some(predictor) = vote.predictor else {
        return Ok(None);
    };
    let Some(p) = predictor.probabilities(vote.model_a, vote.model_b) else {
        return Ok(None);
    };
    let outcome = outcome(vote.winner);
    sqlx::query("update vote set surprise = $2, surprise_run_id = $3 where id = $1")
        .bind(vote.vote_id)
        .bind(p.of(outcome))
        .bind(predictor.run_id)
        .execute(&mut *conn)
        .await?;
    // One person's evidence, whichever of its browsers votes (the row lock orders them).
    let person: Uuid = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select {PERSON}")))
        .bind(vote.voter)
        .fetch_one(&mut *conn)
        .await?;
    let stored: Option<serde_json::Value> =
        sqlx::query_scalar("select evidence from voter_evidence where voter_id = $1 for update")
            .bind(person)
            .fetch_optional(&mut *conn)
            .await?;
    let mut evidence: VoterEvidence = match stored {
        Some(v) => serde_json::from_value(v).unwrap_or_default(),
        None => VoterEvidence::default(),
    };
    let key = |id: Uuid| {
        predictor
            .keys
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    };
    evidence.observe(&key(vote.model_a), &key(vote.model_b), p, outcome);
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
    .bind(person)
    .bind(serde_json::to_value(&evidence).map_err(|e| ArenaError::Internal(e.to_string()))?)
    .bind(log_e)
    .bind(evidence.votes as i64)
    .execute(&mut *conn)
    .await?;
    Ok((log_e >= options.threshold()).then(|| Flag {
        signal: "sequential_test",
        detail: evidence.strongest(&options).to_string(),
        log_e: Some(log_e),
        review_address: None,
    }))
}

/// Puts a voter in quarantine, in its own transaction: the voter enters the queue, every
/// counted vote of theirs leaves the counts (reversibly), and the audit log says why. A voter
/// already held only has any votes that slipped in meanwhile voided. Retried on a deadlock
/// with a concurrent void (both change counts of several pairs).
pub(crate) async fn quarantine(pool: &PgPool, voter: Uuid, flag: &Flag) -> ArenaResult<i64> {
    if let Some((hash, minutes)) = &flag.review_address {
        return review(pool, hash, *minutes, flag).await;
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match quarantine_once(pool, voter, flag).await {
            Err(ArenaError::Database(e))
                if attempt < 4
                    && e.as_database_error()
                        .and_then(|d| d.code())
                        .is_some_and(|c| c == "40P01" || c == "40001") =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
            }
            other => return other,
        }
    }
}

/// An address burst: every voter who voted from the address within the window enters the
/// queue in state `review` (a voter already in it is left as is); no vote changes. One audit
/// row names the address's hash prefix and the voters added. Returns the voters added.
async fn review(pool: &PgPool, hash: &str, minutes: u32, flag: &Flag) -> ArenaResult<i64> {
    let mut tx = pool.begin().await?;
    let added: Vec<Uuid> = sqlx::query_scalar(
        "insert into voter_quarantine (voter_id, state, signal, detail)
         select distinct voter_id, 'review', $3, $4 from vote
         where client_hash = $1 and created_at > now() - make_interval(mins => $2)
         on conflict (voter_id) do nothing
         returning voter_id",
    )
    .bind(hash)
    .bind(minutes as i32)
    .bind(flag.signal)
    .bind(&flag.detail)
    .fetch_all(&mut *tx)
    .await?;
    if !added.is_empty() {
        sqlx::query(
            "insert into audit_log (actor_id, actor, action, target, before, after)
             values (null, $1, 'voters.review', $2, null, $3)",
        )
        .bind(DETECTOR)
        .bind(format!(
            "address:{}",
            hash.chars().take(12).collect::<String>()
        ))
        .bind(json!({ "signal": flag.signal, "detail": flag.detail,
                      "voters": added.iter().map(Uuid::to_string).collect::<Vec<_>>() }))
        .execute(&mut *tx)
        .await?;
        tracing::warn!(voters = added.len(), signal = flag.signal, detail = %flag.detail,
                       "voters of one address put up for review");
    }
    tx.commit().await?;
    Ok(added.len() as i64)
}

async fn quarantine_once(pool: &PgPool, voter: Uuid, flag: &Flag) -> ArenaResult<i64> {
    let mut tx = pool.begin().await?;
    // The person is quarantined: one queue row (its first voter), every browser's votes.
    let voters: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select * from {PERSON_VOTERS} v"
    )))
    .bind(voter)
    .fetch_all(&mut *tx)
    .await?;
    let voter: Uuid = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select {PERSON}")))
        .bind(voter)
        .fetch_one(&mut *tx)
        .await?;
    let newly: Option<Uuid> = sqlx::query_scalar(
        "insert into voter_quarantine (voter_id, state, signal, detail, log_e_value)
         values ($1, 'quarantined', $2, $3, $4)
         on conflict (voter_id) do update set state = 'quarantined', signal = excluded.signal,
             detail = excluded.detail, log_e_value = excluded.log_e_value,
             flagged_at = now(), decided_by = null, decided_at = null
         where voter_quarantine.state in ('cleared', 'review')
         returning voter_id",
    )
    .bind(voter)
    .bind(flag.signal)
    .bind(&flag.detail)
    .bind(flag.log_e)
    .fetch_optional(&mut *tx)
    .await?;
    let state: String =
        sqlx::query_scalar("select state from voter_quarantine where voter_id = $1 for update")
            .bind(voter)
            .fetch_one(&mut *tx)
            .await?;
    if state != "quarantined" && state != "confirmed" {
        // Cleared meanwhile by an admin: leave it.
        return Ok(0);
    }
    let ids: Vec<i64> = sqlx::query_scalar(
        "select id from vote where voter_id = any($1) and counted and not voided order by id",
    )
    .bind(&voters)
    .fetch_all(&mut *tx)
    .await?;
    let changed =
        crate::leaderboard::counts::set_voided(&mut tx, &ids, true, QUARANTINE_REASON, None)
            .await?;
    if newly.is_some() {
        sqlx::query(
            "insert into audit_log (actor_id, actor, action, target, before, after)
             values (null, $1, 'voter.quarantine', $2, null, $3)",
        )
        .bind(DETECTOR)
        .bind(format!("voter:{voter}"))
        .bind(json!({ "signal": flag.signal, "detail": flag.detail,
                      "log_e_value": flag.log_e, "votes_voided": changed,
                      "voters": voters.iter().map(Uuid::to_string).collect::<Vec<_>>() }))
        .execute(&mut *tx)
        .await?;
        tracing::warn!(%voter, signal = flag.signal, detail = %flag.detail, votes = changed,
                       "voter quarantined");
    }
    tx.commit().await?;
    if newly.is_some() {
        crate::metrics::quarantined(flag.signal);
    }
    crate::metrics::voided(crate::metrics::VOID_QUARANTINE, true, changed);
    Ok(changed)
}
