//! Detects answers that reveal which model or vendor wrote them ("As Claude…", "I am Llama"):
//! such battles are kept but excluded from the leaderboard, as Chatbot Arena does.

/// Names of models and vendors that, when an answer names them, break anonymity.
const IDENTITY_WORDS: &[&str] = &[
    "openai",
    "chatgpt",
    "gpt-3",
    "gpt-4",
    "gpt-5",
    "gpt3",
    "gpt4",
    "anthropic",
    "claude",
    "llama",
    "meta ai",
    "mistral",
    "mixtral",
    "gemini",
    "google deepmind",
    "bard",
    "qwen",
    "alibaba cloud",
    "deepseek",
    "smollm",
    "hugging face",
    "huggingface",
    "latxa",
    "hitz",
    "phi-3",
    "microsoft",
    "cohere",
    "command r",
    "grok",
    "xai",
    "gemma",
    "yi-",
    "01.ai",
    "falcon",
    "olmo",
    "allenai",
];

/// True if `answer` names a model or a vendor: one of the built-in identity words, or one of
/// `extra_names` (the names of the arena's own models).
pub fn reveals_identity<S: AsRef<str>>(answer: &str, extra_names: &[S]) -> bool {
    let lower = answer.to_lowercase();
    IDENTITY_WORDS
        .iter()
        .copied()
        .chain(extra_names.iter().map(|s| s.as_ref()))
        .filter(|w| w.chars().count() >= 3)
        .any(|word| contains_word(&lower, &word.to_lowercase()))
}

/// Substring match that respects word boundaries, so "claude" does not match "claudette" and
/// "bard" does not match "bombard".
fn contains_word(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(start, _)| {
        let before = haystack[..start].chars().next_back();
        let after = haystack[start + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_self_identification() {
        let none: &[&str] = &[];
        assert!(reveals_identity("As Claude, I think…", none));
        assert!(reveals_identity("I am Llama, a model by Meta AI.", none));
        assert!(reveals_identity(
            "I'm SmolLM, trained by Hugging Face",
            none
        ));
        assert!(reveals_identity("Ni Latxa naiz.", none));
    }

    #[test]
    fn ignores_ordinary_text_and_partial_words() {
        let none: &[&str] = &[];
        assert!(!reveals_identity(
            "The cat bombarded the claudette with yarn.",
            none
        ));
        assert!(!reveals_identity("Kaixo! Zer moduz?", none));
    }

    #[test]
    fn uses_the_arena_model_names() {
        assert!(reveals_identity("I am tinyfox.", &["TinyFox"]));
    }
}
