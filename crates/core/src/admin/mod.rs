//! The admins' console behind every transport (JSON API, server functions): each entry point
//! is a method of [`Admin`], which exists only for a signed-in admin ([`Arena::admin`] checks
//! the role on the server before anything else). Every change writes its audit row in the
//! same transaction as the change itself.

pub mod benchmarks;
pub mod endpoints;
pub mod models;
pub mod moderation;
pub mod pairing;

use crate::accounts::{Account, require};
use crate::error::{ArenaError, ArenaResult};
use crate::{Arena, accounts};
use arena_domain::account::{Role, Username};
use arena_domain::admin::{AuditEntry, FieldError, UserRow};
use serde_json::Value;
use sqlx::PgConnection;

/// A signed-in admin's handle on the arena.
#[derive(Clone)]
pub struct Admin {
    pub(crate) arena: Arena,
    pub(crate) actor: Account,
}

impl Arena {
    /// The console, for an admin: 401 for a stranger, 403 for any other role.
    pub fn admin(&self, account: Option<&Account>) -> ArenaResult<Admin> {
        let actor = require(account, Role::Admin)?.clone();
        Ok(Admin {
            arena: self.clone(),
            actor,
        })
    }
}

pub(crate) fn field(e: FieldError) -> ArenaError {
    ArenaError::invalid("invalid_field", e.to_string())
}

/// Appends one row to the audit log.
pub(crate) async fn audit(
    conn: &mut PgConnection,
    actor: &Account,
    action: &str,
    target: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> ArenaResult<()> {
    sqlx::query(
        "insert into audit_log (actor_id, actor, action, target, before, after)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(actor.user_id)
    .bind(&actor.username)
    .bind(action)
    .bind(target)
    .bind(before)
    .bind(after)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: chrono::DateTime<chrono::Utc>,
    actor: String,
    action: String,
    target: String,
    before: Option<Value>,
    after: Option<Value>,
}

impl Admin {
    pub fn actor(&self) -> &Account {
        &self.actor
    }

    /// After a committed change to models or endpoints: this process's catalog, gateway and
    /// pairing table follow at once, so the admin's next battle already sees the change (the
    /// other processes follow on the catalog notification). The change is committed either
    /// way: a failed reload is logged and retried by the notification's own reload.
    pub(crate) async fn apply_catalog_change(&self) {
        let arena = &self.arena;
        if let Err(e) = arena
            .catalog
            .reload(&arena.pool, &arena.gateway, &arena.sealer)
            .await
        {
            tracing::warn!(error = %e, "catalog reload after a console change failed");
        }
        if let Err(e) = arena.refresh_pairing().await {
            tracing::warn!(error = %e, "pairing refresh after a console change failed");
        }
    }

    /// The audit log, newest first; `before` pages back by id.
    pub async fn audit_log(&self, before: Option<i64>, limit: i64) -> ArenaResult<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "select id, at, actor, action, target, before, after from audit_log
             where ($1::bigint is null or id < $1) order by id desc limit $2",
        )
        .bind(before)
        .bind(limit.clamp(1, 500))
        .fetch_all(&self.arena.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: r.at.to_rfc3339(),
                actor: r.actor,
                action: r.action,
                target: r.target,
                before: r.before,
                after: r.after,
            })
            .collect())
    }

    /// Every account with its role and votes, by username.
    pub async fn users(&self) -> ArenaResult<Vec<UserRow>> {
        let rows: Vec<(String, String, chrono::DateTime<chrono::Utc>, i64)> = sqlx::query_as(
            "select u.username, u.role, u.created_at,
                    (select count(*) from vote v join voter r on r.id = v.voter_id
                     where r.user_id = u.id)
             from app_user u order by u.username limit 1000",
        )
        .fetch_all(&self.arena.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(username, role, created, votes)| UserRow {
                username,
                role,
                created_at: created.to_rfc3339(),
                votes,
            })
            .collect())
    }

    /// Grants or revokes a role. The account's sessions are rotated at their next request
    /// (they were issued for the old role). An admin cannot demote themself: another admin must.
    pub async fn set_role(&self, username: &str, role: &str) -> ArenaResult<()> {
        let username = Username::parse(username).map_err(accounts::input)?;
        let role: Role = role.parse().map_err(accounts::input)?;
        if username.as_str() == self.actor.username && role != Role::Admin {
            return Err(ArenaError::conflict(
                "own_role",
                "you cannot take your own admin role away; ask another admin",
            ));
        }
        let mut tx = self.arena.pool.begin().await?;
        let before: Option<String> =
            sqlx::query_scalar("select role from app_user where username = $1 for update")
                .bind(username.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let before = before.ok_or(ArenaError::NotFound { what: "account" })?;
        sqlx::query("update app_user set role = $2, updated_at = now() where username = $1")
            .bind(username.as_str())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            &self.actor,
            "user.role",
            &format!("user:{}", username.as_str()),
            Some(serde_json::json!({ "role": before })),
            Some(serde_json::json!({ "role": role.as_str() })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the failed sign-ins of an account from every address, so its owner may sign in
    /// at once (audited with how many were forgotten). Returns that number.
    pub async fn clear_signin_throttle(&self, username: &str) -> ArenaResult<u64> {
        let username = Username::parse(username).map_err(accounts::input)?;
        let mut tx = self.arena.pool.begin().await?;
        let exists: bool =
            sqlx::query_scalar("select exists (select 1 from app_user where username = $1)")
                .bind(username.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if !exists {
            return Err(ArenaError::NotFound { what: "account" });
        }
        let failures: i64 = sqlx::query_scalar(
            "select count(*) from signin_failure where left(key, length($1)) = $1",
        )
        .bind(format!("p/{}/", username.as_str()))
        .fetch_one(&mut *tx)
        .await?;
        let cleared = accounts::Accounts::clear_failures(&mut tx, username.as_str()).await?;
        audit(
            &mut tx,
            &self.actor,
            "user.clear_throttle",
            &format!("user:{}", username.as_str()),
            Some(serde_json::json!({ "failed_signins": failures })),
            Some(serde_json::json!({ "failed_signins": 0 })),
        )
        .await?;
        tx.commit().await?;
        Ok(cleared)
    }
}
