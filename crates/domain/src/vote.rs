//! Sides of a battle and the four possible verdicts.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which anonymous answer: the left ("Model A") or the right ("Model B").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Side {
    A,
    B,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::A, Side::B];

    pub fn as_str(self) -> &'static str {
        match self {
            Side::A => "a",
            Side::B => "b",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "a" => Some(Side::A),
            "b" => Some(Side::B),
            _ => None,
        }
    }
}

/// A volunteer's verdict on one turn, spelled as in the public arena datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    ModelA,
    ModelB,
    Tie,
    BothBad,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown winner {0:?}: expected model_a, model_b, tie or both_bad")]
pub struct WinnerError(pub String);

impl Winner {
    pub const ALL: [Winner; 4] = [Winner::ModelA, Winner::ModelB, Winner::Tie, Winner::BothBad];

    pub fn as_str(self) -> &'static str {
        match self {
            Winner::ModelA => "model_a",
            Winner::ModelB => "model_b",
            Winner::Tie => "tie",
            Winner::BothBad => "both_bad",
        }
    }

    /// The same verdict seen from the other side (used when the sides were swapped).
    pub fn swapped(self) -> Self {
        match self {
            Winner::ModelA => Winner::ModelB,
            Winner::ModelB => Winner::ModelA,
            other => other,
        }
    }
}

impl FromStr for Winner {
    type Err = WinnerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "model_a" => Ok(Winner::ModelA),
            "model_b" => Ok(Winner::ModelB),
            "tie" => Ok(Winner::Tie),
            "both_bad" | "tie (bothbad)" => Ok(Winner::BothBad),
            other => Err(WinnerError(other.to_owned())),
        }
    }
}

impl fmt::Display for Winner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winner_round_trips() {
        for w in Winner::ALL {
            assert_eq!(w.as_str().parse::<Winner>().unwrap(), w);
            let json = serde_json::to_string(&w).unwrap();
            assert_eq!(json, format!("\"{}\"", w.as_str()));
        }
        assert_eq!("tie (bothbad)".parse::<Winner>().unwrap(), Winner::BothBad);
        assert!("left".parse::<Winner>().is_err());
    }

    #[test]
    fn swapping_exchanges_sides_only() {
        assert_eq!(Winner::ModelA.swapped(), Winner::ModelB);
        assert_eq!(Winner::Tie.swapped(), Winner::Tie);
    }
}
