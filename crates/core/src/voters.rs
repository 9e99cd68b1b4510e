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
