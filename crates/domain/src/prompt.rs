//! A volunteer's prompt, parsed once at the boundary.

use serde::Serialize;

/// Longest prompt accepted, in Unicode scalar values (characters), never silently truncated.
pub const MAX_PROMPT_CHARS: usize = 8_000;

/// A non-empty prompt of at most [`MAX_PROMPT_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Prompt(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("the prompt is empty")]
    Empty,
    #[error("the prompt has {chars} characters; the limit is {MAX_PROMPT_CHARS}")]
    TooLong { chars: usize },
    #[error("the prompt contains a NUL character")]
    Nul,
}

impl Prompt {
    pub fn parse(raw: &str) -> Result<Self, PromptError> {
        if raw.trim().is_empty() {
            return Err(PromptError::Empty);
        }
        let chars = raw.chars().count();
        if chars > MAX_PROMPT_CHARS {
            return Err(PromptError::TooLong { chars });
        }
        // Postgres text columns refuse NUL; refuse it here with a clear error instead.
        if raw.contains('\0') {
            return Err(PromptError::Nul);
        }
        Ok(Self(raw.trim_end().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl AsRef<str> for Prompt {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_prompts() {
        assert_eq!(Prompt::parse("Kaixo!\n").unwrap().as_str(), "Kaixo!");
    }

    #[test]
    fn refuses_empty_and_blank() {
        assert_eq!(Prompt::parse(""), Err(PromptError::Empty));
        assert_eq!(Prompt::parse(" \n\t"), Err(PromptError::Empty));
    }

    #[test]
    fn limit_counts_characters_not_bytes() {
        let at_limit = "é".repeat(MAX_PROMPT_CHARS);
        assert!(Prompt::parse(&at_limit).is_ok());
        let over = "é".repeat(MAX_PROMPT_CHARS + 1);
        assert_eq!(
            Prompt::parse(&over),
            Err(PromptError::TooLong {
                chars: MAX_PROMPT_CHARS + 1
            })
        );
    }

    #[test]
    fn refuses_nul() {
        assert_eq!(Prompt::parse("a\0b"), Err(PromptError::Nul));
    }
}
