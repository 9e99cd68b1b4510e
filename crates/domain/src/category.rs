//! Leaderboard categories: views of the votes that people ask for (coding, math, long prompts,
//! multi-turn, and the decisive votes only). Parsed once here; the server owns the SQL that
//! decides membership.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Category {
    /// A code block (```) in the prompt or either answer.
    Coding,
    /// Arithmetic, formulas or mathematical words in the prompt.
    Math,
    /// Prompts over 500 tokens.
    Long,
    /// A later turn of a conversation.
    MultiTurn,
    /// Decisive votes only (ties and "both bad" left out).
    NoTies,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Coding,
        Category::Math,
        Category::Long,
        Category::MultiTurn,
        Category::NoTies,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Coding => "coding",
            Category::Math => "math",
            Category::Long => "long",
            Category::MultiTurn => "multi_turn",
            Category::NoTies => "no_ties",
        }
    }

    /// In English, for the page's control.
    pub fn label(self) -> &'static str {
        match self {
            Category::Coding => "Coding",
            Category::Math => "Math",
            Category::Long => "Long prompts (> 500 tokens)",
            Category::MultiTurn => "Multi-turn",
            Category::NoTies => "Exclude ties",
        }
    }

    pub fn parse(raw: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The counted votes of each category (one snapshot), for the page's control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CategoryCount {
    pub category: Category,
    pub votes: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        assert_eq!(Category::parse("Coding"), None);
    }
}
