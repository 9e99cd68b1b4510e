//! The one error type of the arena's services. Each variant maps to one HTTP status at the API
//! boundary; internal causes are logged once there and never shown to the client.
//!
//! A unique-constraint violation is never an internal error: two requests raced for the same
//! row, and the loser is told what it collided with. [`UNIQUE_CONSTRAINTS`] names every unique
//! constraint and index of the schema with its meaning; a test checks the list against the
//! database's catalog, so a new constraint cannot be forgotten.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ArenaError {
    /// Bad input: the request can never succeed as sent (422 or 400).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// Unknown, or belongs to someone else (404: the two are indistinguishable on purpose).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The request conflicts with the current state (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Too many requests from this client, or too much work at once (429 + Retry-After).
    #[error("{message}")]
    RateLimited {
        code: &'static str,
        message: String,
        retry_after: Duration,
    },
    /// No healthy worker can serve (503).
    #[error("{0}")]
    Unavailable(String),
    /// Overloaded for a moment (503 + Retry-After), e.g. password hashing.
    #[error("{message}")]
    Busy {
        message: String,
        retry_after: Duration,
    },
    /// Not signed in, or the credentials are wrong (401).
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// Signed in, but the role does not allow it (403).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("database: {0}")]
    Database(sqlx::Error),
    #[error("internal: {0}")]
    Internal(String),
}

/// Every unique constraint and unique index of the schema: (name, error code, message).
pub const UNIQUE_CONSTRAINTS: &[(&str, &str, &str)] = &[
    (
        "vote_voter_id_idempotency_key_key",
        "idempotency_key_reused",
        "this Idempotency-Key was already used for another vote",
    ),
    (
        "vote_turn_id_key",
        "already_voted",
        "this turn already has a vote; votes are final",
    ),
    (
        "battle_turn_battle_id_turn_index_key",
        "turn_in_progress",
        "another prompt for this battle arrived at the same moment",
    ),
    (
        "answer_turn_id_side_attempt_key",
        "turn_in_progress",
        "these answers are already being regenerated",
    ),
    (
        "answer_live_side_idx",
        "turn_in_progress",
        "these answers are already being regenerated",
    ),
    (
        "model_key_key",
        "duplicate_model_key",
        "a model with this key already exists",
    ),
    (
        "model_endpoint_model_id_base_url_upstream_model_key",
        "duplicate_endpoint",
        "this model already has an endpoint with this URL and upstream model",
    ),
    (
        "app_user_username_key",
        "username_taken",
        "this username is taken",
    ),
    (
        "app_user_username_skeleton_key",
        "username_look_alike",
        "this username looks like an existing one (the same once look-alike letters, accents \
         and invisible characters are set aside); choose another",
    ),
    (
        "voter_session_hash_key",
        "session_conflict",
        "this session already exists; retry the request",
    ),
    (
        "account_session_token_hash_key",
        "session_conflict",
        "this session already exists; retry the request",
    ),
    (
        "pair_count_pkey",
        "concurrent_update",
        "the counts changed at the same moment; retry the request",
    ),
    (
        "rating_run_pkey",
        "concurrent_update",
        "another computation was recorded at the same moment; retry the request",
    ),
    (
        "pair_rule_pkey",
        "concurrent_update",
        "this pair's rule changed at the same moment; retry the request",
    ),
    (
        "pairing_policy_pkey",
        "concurrent_update",
        "the pairing policy changed at the same moment; retry the request",
    ),
    (
        "battle_report_battle_id_voter_id_key",
        "already_reported",
        "you already reported this battle",
    ),
    (
        "api_token_token_hash_key",
        "session_conflict",
        "this token already exists; retry the request",
    ),
    (
        "leaderboard_refresh_pkey",
        "concurrent_update",
        "another refresh started at the same moment; retry the request",
    ),
    (
        "data_source_name_key",
        "concurrent_update",
        "another import created this data source at the same moment; retry the import",
    ),
    (
        "source_vote_source_id_row_key_key",
        "concurrent_update",
        "another import of the same rows ran at the same moment; retry the import",
    ),
    (
        "voter_evidence_pkey",
        "concurrent_update",
        "your previous vote is still being recorded; retry the request",
    ),
    (
        "voter_quarantine_pkey",
        "concurrent_update",
        "this voter's review changed at the same moment; retry the request",
    ),
    (
        "source_pair_count_key",
        "concurrent_update",
        "the source's counts changed at the same moment; retry the import",
    ),
    (
        "campaign_slug_key",
        "slug_taken",
        "another campaign has this slug",
    ),
    (
        "campaign_one_default",
        "concurrent_update",
        "the default arena already exists",
    ),
    (
        "campaign_model_pkey",
        "concurrent_update",
        "this campaign's pool changed at the same moment; reload and try again",
    ),
    (
        "campaign_contributor_campaign_id_alias_key",
        "alias_taken",
        "another volunteer of this campaign uses that name; choose another",
    ),
];

/// Primary keys generated by the database or as fresh UUIDs: a collision is impossible, so
/// their violation stays an internal error (listed so the catalog test knows them).
pub const GENERATED_KEYS: &[&str] = &[
    "model_pkey",
    "model_endpoint_pkey",
    "app_user_pkey",
    "voter_pkey",
    "battle_pkey",
    "battle_turn_pkey",
    "answer_pkey",
    "vote_pkey",
    // One row per new vote, written by the vote's own insert trigger.
    "export_turn_pkey",
    "server_instance_pkey",
    "account_session_pkey",
    "vote_void_pkey",
    "battle_report_pkey",
    "audit_log_pkey",
    "api_token_pkey",
    "data_source_pkey",
    "source_vote_pkey",
    "source_import_pkey",
    "rigging_salt_pkey",
    "_sqlx_migrations_pkey",
    // The shared limits (`limit_take` inserts with `on conflict do nothing`; `slot_take` a
    // fresh id per holder).
    "rate_limit_pkey",
    "held_slot_pkey",
    // One row per download, its id made by the server.
    "export_download_pkey",
    // Written only with `on conflict … do update` (a stored report or score is replaced).
    "style_run_pkey",
    "category_count_pkey",
    "regression_report_pkey",
    "benchmark_score_pkey",
    "campaign_pkey",
    "campaign_registration_pkey",
    "campaign_contributor_pkey",
    // One row per axis of a vote just inserted (the axes are a map: no key twice).
    "vote_axis_pkey",
];

impl From<sqlx::Error> for ArenaError {
    fn from(e: sqlx::Error) -> Self {
        if let Some(db) = e.as_database_error()
            && db.is_unique_violation()
            && let Some(name) = db.constraint()
            && let Some((_, code, message)) = UNIQUE_CONSTRAINTS.iter().find(|(n, ..)| *n == name)
        {
            tracing::info!(constraint = name, "unique constraint race mapped to 409");
            return ArenaError::Conflict {
                code,
                message: (*message).to_owned(),
            };
        }
        ArenaError::Database(e)
    }
}

impl ArenaError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ArenaError::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ArenaError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn rate_limited(
        code: &'static str,
        message: impl Into<String>,
        retry_after: Duration,
    ) -> Self {
        ArenaError::RateLimited {
            code,
            message: message.into(),
            retry_after,
        }
    }
}

pub type ArenaResult<T> = Result<T, ArenaError>;
