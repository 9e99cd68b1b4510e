//! API tokens: researchers and admins create them on their account page (shown once, stored
//! as a SHA-256), with a name and an optional expiry, and revoke them. A token is read-only: the
//! server accepts it only for reading the exports and the leaderboard (the HTTP layer enforces
//! the scope), rate-limited per token.

use super::{Account, Accounts};
use crate::error::{ArenaError, ArenaResult};
use crate::voters;
use arena_domain::account::Role;
use rand::RngCore;
use serde::Serialize;
use uuid::Uuid;

const PREFIX: &str = "arena_";

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenCreated {
    pub id: Uuid,
    pub name: String,
    /// The token itself: shown this once, never again.
    pub token: String,
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked: bool,
}

/// Why a bearer token was refused (all 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    Revoked,
    Expired,
}

fn hash(token: &str) -> Vec<u8> {
    voters::hash_token(token)
}

impl Accounts {
    pub async fn create_token(
        &self,
        account: &Account,
        name: &str,
        expires_days: Option<u32>,
    ) -> ArenaResult<TokenCreated> {
        super::require(Some(account), Role::Researcher)?;
        let name = name.trim();
        if !(1..=100).contains(&name.chars().count()) {
            return Err(ArenaError::invalid(
                "invalid_field",
                "name: 1 to 100 characters",
            ));
        }
        if expires_days.is_some_and(|d| d == 0 || d > 3650) {
            return Err(ArenaError::invalid(
                "invalid_field",
                "expires_days: from 1 to 3650, or absent for no expiry",
            ));
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!("{PREFIX}{}", hex::encode(bytes));
        let id = Uuid::now_v7();
        let expires: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "insert into api_token (id, user_id, name, token_hash, expires_at)
             values ($1, $2, $3, $4, now() + make_interval(days => $5))
             returning expires_at",
        )
        .bind(id)
        .bind(account.user_id)
        .bind(name)
        .bind(hash(&token))
        .bind(expires_days.map(|d| d as i32))
        .fetch_one(&self.pool)
        .await?;
        Ok(TokenCreated {
            id,
            name: name.to_owned(),
            token,
            expires_at: expires.map(|e| e.to_rfc3339()),
        })
    }

    pub async fn tokens(&self, account: &Account) -> ArenaResult<Vec<TokenView>> {
        Ok(sqlx::query_as(
            "select id, name, created_at, expires_at, last_used_at, revoked_at is not null as revoked
             from api_token where user_id = $1 order by created_at desc",
        )
        .bind(account.user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes one of the account's tokens (404 for anyone else's).
    pub async fn revoke_token(&self, account: &Account, id: &str) -> ArenaResult<()> {
        let id: Uuid = id
            .parse()
            .map_err(|_| ArenaError::NotFound { what: "token" })?;
        let found = sqlx::query(
            "update api_token set revoked_at = coalesce(revoked_at, now())
             where id = $1 and user_id = $2",
        )
        .bind(id)
        .bind(account.user_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if found == 0 {
            return Err(ArenaError::NotFound { what: "token" });
        }
        Ok(())
    }

    /// The account a bearer token stands for (its `session_id` is the token's id), or why not.
    pub async fn resolve_token(&self, token: &str) -> ArenaResult<Result<Account, TokenRefusal>> {
        let well_formed = token
            .strip_prefix(PREFIX)
            .is_some_and(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()));
        if !well_formed {
            return Ok(Err(TokenRefusal::Unknown));
        }
        let row: Option<(Uuid, Uuid, String, String, bool, bool, bool)> = sqlx::query_as(
            "select t.id, u.id, u.username, u.role, t.revoked_at is not null,
                    t.expires_at is not null and t.expires_at <= now(),
                    t.last_used_at is null or t.last_used_at < now() - interval '1 minute'
             from api_token t join app_user u on u.id = t.user_id where t.token_hash = $1",
        )
        .bind(hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, user_id, username, role, revoked, expired, stale)) = row else {
            return Ok(Err(TokenRefusal::Unknown));
        };
        if revoked {
            return Ok(Err(TokenRefusal::Revoked));
        }
        if expired {
            return Ok(Err(TokenRefusal::Expired));
        }
        let role: Role = role
            .parse()
            .map_err(|_| ArenaError::Internal(format!("user {user_id} has an unknown role")))?;
        if stale {
            sqlx::query("update api_token set last_used_at = now() where id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(Ok(Account {
            user_id,
            username,
            role,
            session_id: id,
        }))
    }
}
