//! The terms of use and data-use notice: the text lives in the repository (`terms/`), one file
//! per version; a voter accepts the current version before their first vote, and again when
//! it changes.

/// The version a voter must have accepted to vote.
pub const TERMS_VERSION: &str = "2026-12-01";

/// The current text (Markdown).
pub const TERMS_TEXT: &str = include_str!("../../../terms/2026-12-01.md");

#[cfg(test)]
mod tests {
    #[test]
    fn the_text_names_its_version() {
        assert!(super::TERMS_TEXT.contains(super::TERMS_VERSION));
    }
}
