//! Moderation, the audit log and the accounts list.

use super::{FieldError, bad};
use serde::{Deserialize, Serialize};

/// Moderation search over the votes (every field optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema, utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
pub struct VoteQuery {
    /// A model key: votes of battles with this model on either side.
    #[serde(default)]
    pub model: Option<String>,
    /// A voter id (UUID).
    #[serde(default)]
    pub voter: Option<String>,
    /// Dates (YYYY-MM-DD, UTC), inclusive.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    /// Only votes in flagged battles.
    #[serde(default)]
    pub flagged: Option<bool>,
    #[serde(default)]
    pub voided: Option<bool>,
    /// Votes older than this id (paging), newest first.
    #[serde(default)]
    pub before: Option<i64>,
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VoteRow {
    pub id: i64,
    pub battle_id: String,
    pub voter_id: String,
    pub model_a: String,
    pub model_b: String,
    pub winner: String,
    pub counted: bool,
    pub voided: bool,
    pub void_reason: Option<String>,
    pub flagged: bool,
    pub voter_banned: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlaggedBattle {
    pub battle_id: String,
    pub voter_id: String,
    pub model_a: String,
    pub model_b: String,
    /// Why it is in the queue: "answer names a model: …", "reported: …".
    pub reasons: Vec<String>,
    pub votes: i64,
    pub voided_votes: i64,
    pub created_at: String,
}

/// Void or unvoid: a reason is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModerationInput {
    pub reason: String,
}

impl ModerationInput {
    pub fn reason(&self) -> Result<&str, FieldError> {
        let r = self.reason.trim();
        if (1..=500).contains(&r.chars().count()) {
            Ok(r)
        } else {
            Err(bad("reason", "say why, in 1 to 500 characters"))
        }
    }
}

/// What a moderation action changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModerationOutcome {
    /// Votes whose state changed (voided or restored).
    pub votes_changed: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserRow {
    pub username: String,
    pub role: String,
    pub created_at: String,
    pub votes: i64,
}

/// One voter in the rigging detector's quarantine queue (`GET /api/v1/admin/quarantine`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuarantinedVoter {
    pub voter_id: String,
    /// `quarantined` (waiting for a decision: its votes are out of the leaderboard),
    /// `confirmed` (they stay out) or `cleared` (they are back).
    pub state: String,
    /// What flagged the voter: `sequential_test`, `unread_votes`, `repeated_prompt` or
    /// `address_burst`.
    pub signal: String,
    /// The strongest pattern, e.g. "votes for model-x whenever it appears".
    pub detail: String,
    /// The voter's evidence (log e-value) when flagged; the threshold is ln(1/alpha).
    pub log_e_value: Option<f64>,
    /// RFC 3339.
    pub flagged_at: String,
    /// Votes of the voter now held out of the leaderboard.
    pub votes_held: i64,
}
