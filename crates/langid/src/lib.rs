//! The language of a prompt, detected with lingua (a maintained detector that knows Basque),
//! among the arena's languages and their neighbours: Basque, English, Spanish, French, Catalan,
//! Portuguese, Italian and German (lingua has no Galician model). Returns an ISO 639-1 code, or `None` when the text
//! is too short or too mixed to say (a prompt of a few characters, code, numbers).
//!
//! The models load once per process, on first use (about a second, tens of MB): call
//! [`detect`] from a blocking thread in an async server.

use lingua::{IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder};
use std::sync::OnceLock;

const LANGUAGES: [Language; 8] = [
    Language::Basque,
    Language::English,
    Language::Spanish,
    Language::French,
    Language::Catalan,
    Language::Portuguese,
    Language::Italian,
    Language::German,
];

/// Below this many letters a prompt says too little about its language.
const MIN_LETTERS: usize = 8;

/// The languages [`detect`] can answer (ISO 639-1).
pub fn known() -> Vec<&'static str> {
    LANGUAGES.iter().map(|l| code(*l)).collect()
}

fn code(language: Language) -> &'static str {
    match language.iso_code_639_1() {
        IsoCode639_1::EU => "eu",
        IsoCode639_1::EN => "en",
        IsoCode639_1::ES => "es",
        IsoCode639_1::FR => "fr",
        IsoCode639_1::CA => "ca",
        IsoCode639_1::PT => "pt",
        IsoCode639_1::IT => "it",
        IsoCode639_1::DE => "de",
    }
}

fn detector() -> &'static LanguageDetector {
    static DETECTOR: OnceLock<LanguageDetector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        LanguageDetectorBuilder::from_languages(&LANGUAGES)
            .with_minimum_relative_distance(0.1)
            .build()
    })
}

/// The prompt's language, or `None` when it cannot be told.
pub fn detect(text: &str) -> Option<&'static str> {
    // Code blocks say nothing about the language the person writes in.
    let prose: String = text
        .split("```")
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join(" ");
    if prose.chars().filter(|c| c.is_alphabetic()).count() < MIN_LETTERS {
        return None;
    }
    detector().detect_language_of(&prose).map(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arena_languages_are_told_apart() {
        assert_eq!(
            detect("Zein da Euskal Herriko mendirik altuena eta zenbat metro ditu?"),
            Some("eu")
        );
        assert_eq!(
            detect("What is the tallest mountain in the Basque Country?"),
            Some("en")
        );
        assert_eq!(
            detect("¿Cuál es la montaña más alta del País Vasco y cuántos metros tiene?"),
            Some("es")
        );
        assert_eq!(
            detect("Quelle est la plus haute montagne du Pays basque ?"),
            Some("fr")
        );
    }

    #[test]
    fn too_little_text_is_no_answer() {
        assert_eq!(detect("Hi"), None);
        assert_eq!(detect("2 + 2 = ?"), None);
        assert_eq!(
            detect("```rust\nfn main() { println!(\"hello world\"); }\n```"),
            None
        );
        assert_eq!(known().len(), 8);
    }
}
