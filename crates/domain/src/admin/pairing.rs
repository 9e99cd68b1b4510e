//! The pairing policy as the console edits it and `GET /api/v1/pairing` serves it.

use super::{FieldError, bad};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PairingMode {
    /// Each model drawn by weight (with boosts, exclusions and warm-up).
    Weighted,
    /// Pairs drawn by how much one more vote shrinks the leaderboard's uncertainty, mixed with a
    /// uniform floor.
    Active,
}

impl PairingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PairingMode::Weighted => "weighted",
            PairingMode::Active => "active",
        }
    }
}

impl std::str::FromStr for PairingMode {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "weighted" => Ok(PairingMode::Weighted),
            "active" => Ok(PairingMode::Active),
            _ => Err(bad("mode", "must be weighted or active")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingPolicyInput {
    pub mode: PairingMode,
    pub uniform_floor: f64,
    pub warmup_votes: i32,
    pub warmup_boost: f64,
    #[serde(default)]
    pub version: Option<i32>,
}

impl PairingPolicyInput {
    pub fn check(&self) -> Result<(), FieldError> {
        if !(self.uniform_floor.is_finite() && (0.0..=1.0).contains(&self.uniform_floor)) {
            return Err(bad("uniform_floor", "must be from 0 to 1"));
        }
        if self.warmup_votes < 0 {
            return Err(bad("warmup_votes", "must not be negative"));
        }
        if !(self.warmup_boost.is_finite() && (1.0..=100.0).contains(&self.warmup_boost)) {
            return Err(bad("warmup_boost", "must be from 1 to 100"));
        }
        Ok(())
    }
}

/// A rule for one pair of models (by key): boosted by a factor, or excluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairRuleInput {
    pub model_a: String,
    pub model_b: String,
    #[serde(default = "one")]
    pub boost: f64,
    #[serde(default)]
    pub excluded: bool,
}

fn one() -> f64 {
    1.0
}

impl PairRuleInput {
    pub fn check(&self) -> Result<(), FieldError> {
        if self.model_a == self.model_b {
            return Err(bad("model_b", "a pair needs two different models"));
        }
        if !(self.boost.is_finite() && self.boost > 0.0 && self.boost <= 100.0) {
            return Err(bad("boost", "must be above 0 and at most 100"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairRuleView {
    pub model_a: String,
    pub model_b: String,
    pub boost: f64,
    pub excluded: bool,
}

/// One pair's sampling: what the policy gives it now, and what it got over the last day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairRate {
    pub model_a: String,
    pub model_b: String,
    /// Probability of the pair under the current policy (either order).
    pub probability: f64,
    /// Battles started on the pair in the last 24 hours, and their share of all of them.
    pub battles_last_day: i64,
    pub realised_share: f64,
}

/// The pairing policy and the realised sampling (`GET /api/v1/pairing`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingView {
    pub mode: PairingMode,
    pub uniform_floor: f64,
    pub warmup_votes: i32,
    pub warmup_boost: f64,
    pub version: i32,
    pub rules: Vec<PairRuleView>,
    pub battles_last_day: i64,
    pub pairs: Vec<PairRate>,
}
