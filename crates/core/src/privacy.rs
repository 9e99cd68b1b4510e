//! Erasure and retention (docs/privacy.md). This module owns their SQL.
//!
//! - **Erasure.** A person (a signed-in account with every browser it used, or one anonymous
//!   browser an admin names) is erased in one transaction: the text of every battle they
//!   started is removed (prompts, answers, the export rows' copies; the battle stays, marked
//!   `redacted_at`), their reports and campaign registrations and pseudonyms are deleted, their
//!   votes are voided with reason `erased` (through the counts' own `set_voided`, so runs
//!   before stay reproducible from their snapshots and later runs leave them out), or, when
//!   the terms say votes stay as anonymous outcomes (`privacy.erasure_keeps_votes`), stay
//!   counted with nothing that points back (no address hash, no account, left out of every
//!   export); the account itself is deleted (its sessions and API tokens with it).
//! - **Retention.** With `privacy.conversation_retention_days`, the text of battles untouched
//!   for longer is removed by a background round every hour, one process at a time (a
//!   transaction-level advisory lock); their votes stay as they are.
//!
//! Exports leave out every redacted battle (a `run=` reproduction keeps its vote without text,
//! as for voters who opted out of data release).

use crate::Arena;
use crate::error::{ArenaError, ArenaResult};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use std::time::Duration;
use uuid::Uuid;

/// The void reason of an erased person's votes.
pub const ERASURE_REASON: &str = "erased";
/// The advisory lock of the retention round (any constant no other code takes).
const RETENTION_LOCK: i64 = 0x7072_6976_6163_7931;
/// Battles redacted per statement of the retention round (short transactions).
const RETENTION_BATCH: i64 = 500;

/// `[privacy]` in the configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PrivacySettings {
    /// Remove the text of battles untouched for this many days (0: keep it).
    pub conversation_retention_days: u32,
    /// The terms say an erased person's votes stay as anonymous outcomes; otherwise they are
    /// voided.
    pub erasure_keeps_votes: bool,
}

/// What an erasure did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Erasure {
    /// Browsers (voters) of the person.
    pub voters: i64,
    /// Battles whose text was removed.
    pub battles_redacted: i64,
    /// Votes taken out of the counts.
    pub votes_voided: i64,
    /// Votes kept as anonymous outcomes (`privacy.erasure_keeps_votes`).
    pub votes_kept: i64,
    /// The account was deleted (false for an anonymous browser).
    pub account_deleted: bool,
}

/// Removes the text of `battles`; returns how many were not redacted before.
async fn redact(conn: &mut PgConnection, battles: &[Uuid]) -> ArenaResult<i64> {
    sqlx::query("update battle_turn set prompt = '' where battle_id = any($1) and prompt <> ''")
        .bind(battles)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "update answer set content = '' where content <> ''
           and turn_id in (select id from battle_turn where battle_id = any($1))",
    )
    .bind(battles)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "update export_turn set prompt = '', a = null, b = null, earlier = null
         where battle_id = any($1)",
    )
    .bind(battles)
    .execute(&mut *conn)
    .await?;
    let redacted = sqlx::query(
        "update battle set redacted_at = now() where id = any($1) and redacted_at is null",
    )
    .bind(battles)
    .execute(&mut *conn)
    .await?;
    Ok(redacted.rows_affected() as i64)
}

/// Erases the person behind `voters` (all of them: one account's browsers, or one anonymous
/// browser), and the account `user` if there is one. See the module's documentation.
async fn erase(
    conn: &mut PgConnection,
    voters: &[Uuid],
    user: Option<Uuid>,
    keep_votes: bool,
    actor: Option<Uuid>,
) -> ArenaResult<Erasure> {
    let battles: Vec<Uuid> = sqlx::query_scalar("select id from battle where voter_id = any($1)")
        .bind(voters)
        .fetch_all(&mut *conn)
        .await?;
    let battles_redacted = redact(conn, &battles).await?;
    sqlx::query("delete from battle_report where voter_id = any($1)")
        .bind(voters)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from campaign_registration where voter_id = any($1)")
        .bind(voters)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from campaign_contributor where voter_id = any($1)")
        .bind(voters)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from voter_evidence where voter_id = any($1)")
        .bind(voters)
        .execute(&mut *conn)
        .await?;
    // Nothing that points back at the person: no address hash; never in an export again.
    sqlx::query("update vote set client_hash = null where voter_id = any($1)")
        .bind(voters)
        .execute(&mut *conn)
        .await?;
    sqlx::query("update voter set data_release_opt_out = true, user_id = null where id = any($1)")
        .bind(voters)
        .execute(&mut *conn)
        .await?;
    let (votes_voided, votes_kept) = if keep_votes {
        let kept: i64 = sqlx::query_scalar(
            "select count(*) from vote where voter_id = any($1) and counted and not voided",
        )
        .bind(voters)
        .fetch_one(&mut *conn)
        .await?;
        (0, kept)
    } else {
        let ids: Vec<i64> = sqlx::query_scalar(
            "select id from vote where voter_id = any($1) and counted and not voided order by id",
        )
        .bind(voters)
        .fetch_all(&mut *conn)
        .await?;
        let voided =
            crate::leaderboard::counts::set_voided(conn, &ids, true, ERASURE_REASON, actor).await?;
        (voided, 0)
    };
    let account_deleted = match user {
        Some(user) => {
            // Sessions and API tokens go with it (on delete cascade).
            sqlx::query("delete from app_user where id = $1")
                .bind(user)
                .execute(&mut *conn)
                .await?
                .rows_affected()
                == 1
        }
        None => false,
    };
    Ok(Erasure {
        voters: voters.len() as i64,
        battles_redacted,
        votes_voided,
        votes_kept,
        account_deleted,
    })
}

/// An account in the audit log's actor column cannot be deleted (the log is append-only): an
/// admin erases another admin's volunteer account only after taking the role away, and an
/// admin who acted cannot erase themselves.
fn referenced(e: ArenaError) -> ArenaError {
    match &e {
        ArenaError::Database(db)
            if db
                .as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|c| c == "23503") =>
        {
            ArenaError::conflict(
                "account_in_audit_log",
                "this account acted in the console, and the audit log keeps who did what; \
                 it cannot be erased",
            )
        }
        _ => e,
    }
}

impl Arena {
    /// A signed-in person erases their account and data (the caller has checked the
    /// password). One transaction; an audit row without personal data.
    pub async fn erase_account(&self, user: Uuid) -> ArenaResult<Erasure> {
        let mut tx = self.pool.begin().await?;
        let voters: Vec<Uuid> = sqlx::query_scalar("select id from voter where user_id = $1")
            .bind(user)
            .fetch_all(&mut *tx)
            .await?;
        let erasure = erase(
            &mut tx,
            &voters,
            Some(user),
            self.privacy.erasure_keeps_votes,
            None,
        )
        .await
        .map_err(referenced)?;
        sqlx::query(
            "insert into audit_log (actor_id, actor, action, target, before, after)
             values (null, 'self', 'account.erase', 'account', null, $1)",
        )
        .bind(serde_json::to_value(&erasure).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
        tx.commit()
            .await
            .map_err(|e| referenced(ArenaError::Database(e)))?;
        crate::metrics::voided(crate::metrics::VOID_ERASURE, true, erasure.votes_voided);
        tracing::info!(
            voters = erasure.voters,
            battles = erasure.battles_redacted,
            "an account was erased at its owner's request"
        );
        Ok(erasure)
    }

    /// The retention round: the text of battles untouched for longer than
    /// `privacy.conversation_retention_days` is removed, in batches, by one process at a time.
    /// Returns the battles redacted (0 when another process holds the round).
    pub async fn redact_old_conversations(&self) -> ArenaResult<i64> {
        let days = self.privacy.conversation_retention_days;
        if days == 0 {
            return Ok(0);
        }
        let mut total = 0;
        loop {
            let mut tx = self.pool.begin().await?;
            let locked: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
                .bind(RETENTION_LOCK)
                .fetch_one(&mut *tx)
                .await?;
            if !locked {
                return Ok(total);
            }
            let battles: Vec<Uuid> = sqlx::query_scalar(
                "select id from battle where redacted_at is null
                   and updated_at < now() - make_interval(days => $1)
                 order by updated_at limit $2 for update skip locked",
            )
            .bind(days as i32)
            .bind(RETENTION_BATCH)
            .fetch_all(&mut *tx)
            .await?;
            if battles.is_empty() {
                tx.commit().await?;
                return Ok(total);
            }
            total += redact(&mut tx, &battles).await?;
            tx.commit().await?;
        }
    }

    /// Runs the retention round every hour (when retention is on) until shutdown.
    pub(crate) fn spawn_retention(&self) {
        if self.privacy.conversation_retention_days == 0 {
            return;
        }
        let arena = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = arena.shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                match arena.redact_old_conversations().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(battles = n, "old conversations redacted"),
                    Err(e) => tracing::warn!(error = %e, "the retention round failed"),
                }
            }
        });
    }
}

impl crate::admin::Admin {
    /// An admin erases the person behind a voter (every browser of its account, if it has
    /// one, and the account), audited.
    pub async fn erase_voter(
        &self,
        voter: &str,
        input: &arena_domain::admin::ModerationInput,
    ) -> ArenaResult<Erasure> {
        let reason = input.reason().map_err(crate::admin::field)?;
        let voter: Uuid = voter
            .parse()
            .map_err(|_| ArenaError::NotFound { what: "voter" })?;
        let mut tx = self.arena.admin_pool.begin().await?;
        let user: Option<Option<Uuid>> =
            sqlx::query_scalar("select user_id from voter where id = $1 for update")
                .bind(voter)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(user) = user else {
            return Err(ArenaError::NotFound { what: "voter" });
        };
        let voters: Vec<Uuid> = match user {
            Some(user) => {
                sqlx::query_scalar("select id from voter where user_id = $1")
                    .bind(user)
                    .fetch_all(&mut *tx)
                    .await?
            }
            None => vec![voter],
        };
        let erasure = erase(
            &mut tx,
            &voters,
            user,
            self.arena.privacy.erasure_keeps_votes,
            Some(self.actor.user_id),
        )
        .await
        .map_err(referenced)?;
        crate::admin::audit(
            &mut tx,
            &self.actor,
            "voter.erase",
            &format!("voter:{voter}"),
            None,
            Some(serde_json::json!({ "reason": reason, "erasure": erasure })),
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| referenced(ArenaError::Database(e)))?;
        crate::metrics::voided(crate::metrics::VOID_ERASURE, true, erasure.votes_voided);
        Ok(erasure)
    }
}
