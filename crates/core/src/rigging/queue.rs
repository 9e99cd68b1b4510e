//! The quarantine queue for admins: list, confirm, clear (audited).

use super::QUARANTINE_REASON;
use super::vote::PERSON_VOTERS;
use crate::admin::Admin;
use crate::error::{ArenaError, ArenaResult};
use arena_domain::admin::{ModerationInput, ModerationOutcome, QuarantinedVoter};
use serde_json::json;
use uuid::Uuid;

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

impl Admin {
    /// The quarantine queue: voters waiting for a decision first, then decided ones.
    pub async fn quarantine_queue(&self, limit: i64) -> ArenaResult<Vec<QuarantinedVoter>> {
        let rows: Vec<QueueRow> = sqlx::query_as(
            "select q.voter_id, q.state, q.signal, q.detail, q.log_e_value, q.flagged_at,
                    (select count(*) from vote v
                     where v.voter_id in (select q.voter_id union
                                          select o.id from voter me join voter o
                                            on o.user_id = me.user_id
                                          where me.id = q.voter_id)
                       and v.voided and v.void_reason = 'quarantine') as votes_held
             from voter_quarantine q
             order by q.state not in ('review', 'quarantined'), q.flagged_at desc limit $1",
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

    /// Confirms (`confirm = true`: the votes stay out; a voter up for review has its counted
    /// votes voided now) or clears (quarantined votes come back and the voter's evidence
    /// starts again; a reviewed voter keeps its votes) a voter in the queue, with the admin's
    /// reason.
    pub async fn decide_quarantine(
        &self,
        voter: &str,
        confirm: bool,
        input: &ModerationInput,
    ) -> ArenaResult<ModerationOutcome> {
        let reason = input.reason().map_err(crate::admin::field)?;
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
        let changed = if confirm {
            let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "select id from vote where voter_id in {PERSON_VOTERS} and counted and not voided
                 order by id"
            )))
            .bind(voter)
            .fetch_all(&mut *tx)
            .await?;
            crate::leaderboard::counts::set_voided(
                &mut tx,
                &ids,
                true,
                QUARANTINE_REASON,
                Some(self.actor.user_id),
            )
            .await?
        } else {
            let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "select id from vote where voter_id in {PERSON_VOTERS} and voided
                   and void_reason = $2"
            )))
            .bind(voter)
            .bind(QUARANTINE_REASON)
            .fetch_all(&mut *tx)
            .await?;
            let changed = crate::leaderboard::counts::set_voided(
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
            changed
        };
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
            Some(json!({ "state": state, "reason": reason, "votes_changed": changed })),
        )
        .await?;
        tx.commit().await?;
        crate::metrics::voided(crate::metrics::VOID_QUARANTINE, confirm, changed);
        Ok(ModerationOutcome {
            votes_changed: changed,
        })
    }
}
