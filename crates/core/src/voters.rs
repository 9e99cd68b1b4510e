//! Voters: everyone who opens the arena is an anonymous voter at once, identified by a random
//! session token in an HttpOnly cookie; the database keeps only the token's SHA-256.

use crate::error::ArenaResult;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoterId(pub Uuid);

/// A fresh session token: 256 random bits, hex-encoded.
pub fn new_session_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub(crate) fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Tokens we issue are 64 hex characters; anything else is not worth a database round trip.
pub fn is_well_formed_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The voter holding this session token, if any. `last_seen_at` is kept to within five
/// minutes: a write (and its WAL flush) on every request would double the cost of a vote and
/// make one voter's concurrent requests queue on its row.
pub async fn find_by_token(pool: &PgPool, token: &str) -> ArenaResult<Option<VoterId>> {
    if !is_well_formed_token(token) {
        return Ok(None);
    }
    let hash = hash_token(token);
    let found: Option<(Uuid, bool)> = sqlx::query_as(
        "select id, last_seen_at < now() - interval '5 minutes' from voter
         where session_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(pool)
    .await?;
    let Some((id, stale)) = found else {
        return Ok(None);
    };
    if stale {
        sqlx::query("update voter set last_seen_at = now() where id = $1")
            .bind(id)
            .execute(pool)
            .await?;
    }
    Ok(Some(VoterId(id)))
}

/// Creates an anonymous voter for a new session token.
pub async fn create(pool: &PgPool, token: &str) -> ArenaResult<VoterId> {
    let id = Uuid::now_v7();
    sqlx::query("insert into voter (id, session_hash) values ($1, $2)")
        .bind(id)
        .bind(hash_token(token))
        .execute(pool)
        .await?;
    Ok(VoterId(id))
}

/// What a voter may do: banned voters start no battle and cast no vote; a vote needs the
/// current terms accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub banned: Option<String>,
    pub terms_version: Option<String>,
}

pub async fn standing<'e>(db: impl sqlx::PgExecutor<'e>, voter: VoterId) -> ArenaResult<Standing> {
    let row: Option<(bool, Option<String>, Option<String>)> = sqlx::query_as(
        "select banned_at is not null, ban_reason, terms_version from voter where id = $1",
    )
    .bind(voter.0)
    .fetch_optional(db)
    .await?;
    let (banned, reason, terms_version) = row.unwrap_or_default();
    Ok(Standing {
        banned: banned.then(|| reason.unwrap_or_default()),
        terms_version,
    })
}

/// Refuses a banned voter with a plain message (403).
pub fn refuse_banned(standing: &Standing) -> ArenaResult<()> {
    match &standing.banned {
        Some(reason) => Err(crate::ArenaError::Forbidden {
            code: "banned",
            message: if reason.is_empty() {
                "this browser has been banned from the arena by its moderators".to_owned()
            } else {
                format!("this browser has been banned from the arena by its moderators: {reason}")
            },
        }),
        None => Ok(()),
    }
}

/// Records that the voter accepted `version` of the terms (it must be the current one).
pub async fn accept_terms(pool: &PgPool, voter: VoterId, version: &str) -> ArenaResult<()> {
    if version != arena_domain::terms::TERMS_VERSION {
        return Err(crate::ArenaError::invalid(
            "unknown_terms_version",
            format!(
                "the current terms are version {}; read them and accept that version",
                arena_domain::terms::TERMS_VERSION
            ),
        ));
    }
    sqlx::query(
        "update voter set terms_version = $2, terms_accepted_at = now()
         where id = $1 and terms_version is distinct from $2",
    )
    .bind(voter.0)
    .bind(version)
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether this voter's conversations and votes are left out of research exports.
pub async fn data_release_opt_out(pool: &PgPool, voter: VoterId) -> ArenaResult<bool> {
    Ok(
        sqlx::query_scalar("select data_release_opt_out from voter where id = $1")
            .bind(voter.0)
            .fetch_optional(pool)
            .await?
            .unwrap_or(false),
    )
}

pub async fn set_data_release_opt_out(
    pool: &PgPool,
    voter: VoterId,
    opt_out: bool,
) -> ArenaResult<()> {
    sqlx::query("update voter set data_release_opt_out = $2 where id = $1")
        .bind(voter.0)
        .bind(opt_out)
        .execute(pool)
        .await?;
    Ok(())
}
