//! Detects answers that reveal which model or vendor wrote them ("As Claude…", "I'm Qwen2.5…"):
//! such battles are kept but excluded from the leaderboard, as Chatbot Arena does.
//!
//! # What is matched, and why
//!
//! The answer is lower-cased once (curly apostrophes, non-breaking hyphens and spaces folded to
//! their ASCII forms) and scanned at **word starts** only: a name must not be preceded by a letter
//! or digit, so "bombard" never matches "bard". Right after the name comes either the end of the
//! word or a **version tail**: at most one separator (`-`, `_`, `.` or a space) and a version
//! such as `2.5`, `3.1`, `4o`, `8x7B`, `V3` or a known suffix (`-Instruct`, ` Sonnet`, ` Pro`),
//! possibly chained (`-4o-mini`, `-3.1-8B-Instruct`, ` 3.5 Sonnet`). Any other letters glued to a
//! name make it a different word ("claudette", "llamas", "grokking"), which is not a match.
//!
//! Each name in the table (`NAMES`) has a kind:
//! - **distinctive** names (Qwen, DeepSeek, OpenAI, Claude, Latxa…) mean nothing else, so they
//!   are flagged wherever they appear; Basque case endings are allowed after them ("Latxak",
//!   "OpenAIren").
//! - **ordinary-word** names (mistral, llama, gemini, falcon, bard, phi, GPT…) are also everyday
//!   words, so they are flagged only with a version tail ("Mistral-7B", "Gemini 1.5", "Llama3",
//!   "GPT-4o") or in self-reference: "I am X", "my name is X", "As X, …", "as a X model",
//!   "X, a large language model", "a model called X", "developed/trained/made by X",
//!   "a model from X", Spanish "Soy X" / "desarrollado por X" and Basque "Ni X naiz" /
//!   "X-k garatua". A version tail after a space has to look like a version ("Gemini 1.5",
//!   "Falcon 40B"), not like a count ("Falcon 9", "Gemini 4" are a rocket and a space mission).
//!   Big companies (Google, Meta, Microsoft…) need first-person wording ("I was trained by Google",
//!   "a model developed by Meta"): "made by Google" alone is a phone, not a leak.
//!
//! A few distinctive names are also given names or parts of fixed phrases, and those uses are let
//! through: "Claude Monet", "Jean-Claude", "Gemma Chan" (a capitalised surname follows), "the
//! anthropic principle", and "XAI" in a text about explainable AI.
//!
//! The arena's own model names (`extra_names`) are distinctive too, with their family word
//! ("SmolLM2-135M-Instruct" → "smollm").
//!
//! The scan is linear in the answer (each word start is tried against a table of ~150 spellings
//! that is checked by first letter), never slices inside a character, and reports each match as
//! written in the answer for moderators.

use std::cell::OnceCell;
use std::sync::OnceLock;

mod table;
use table::*;

/// [`identity_matches`] reports at most this many names.
pub const MAX_MATCHES: usize = 16;

/// The names of models and vendors that `answer` mentions in a way that reveals who wrote it,
/// as written in the answer (original casing), without repeats (compared case-insensitively), in
/// order of appearance, at most [`MAX_MATCHES`]. Built-in names come from the module's table;
/// `extra_names` are the arena's own model keys and display names, each flagged anywhere along
/// with its family word ("SmolLM2-135M-Instruct" → "smollm"); names shorter than 3 characters
/// are ignored.
pub fn identity_matches<S: AsRef<str>>(answer: &str, extra_names: &[S]) -> Vec<String> {
    let text = Folded::new(answer);
    let extras = extra_patterns(extra_names);
    let patterns: Vec<&Pattern> = table_patterns().iter().chain(&extras).collect();
    let t = &text.chars;
    let mut found: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut i = 0;
    while i < t.len() && found.len() < MAX_MATCHES {
        if !t[i].is_alphanumeric() || (i > 0 && t[i - 1].is_alphanumeric()) {
            i += 1;
            continue;
        }
        let end = patterns
            .iter()
            .filter(|p| p.chars[0] == t[i])
            .filter_map(|p| p.match_at(&text, i))
            .max();
        match end {
            Some(end) => {
                let word = text.original_text(i, end);
                let key = word.to_lowercase();
                if !seen.contains(&key) {
                    seen.push(key);
                    found.push(word.to_owned());
                }
                i = end.max(i + 1);
            }
            None => i += 1,
        }
    }
    found
}

/// True if `answer` names a model or a vendor in a revealing way; see [`identity_matches`].
pub fn reveals_identity<S: AsRef<str>>(answer: &str, extra_names: &[S]) -> bool {
    !identity_matches(answer, extra_names).is_empty()
}

/// The answer lower-cased char by char, remembering where each char came from.
struct Folded<'a> {
    original: &'a str,
    chars: Vec<char>,
    /// Byte range in `original` of the char each folded char comes from.
    spans: Vec<(usize, usize)>,
    joined: OnceCell<String>,
}

impl<'a> Folded<'a> {
    fn new(original: &'a str) -> Self {
        let mut chars = Vec::with_capacity(original.len());
        let mut spans = Vec::with_capacity(original.len());
        for (start, c) in original.char_indices() {
            let end = start + c.len_utf8();
            for folded in arena_text::fold_char(fold_char(c)) {
                for lower in folded.to_lowercase() {
                    chars.push(lower);
                    spans.push((start, end));
                }
            }
        }
        join_spelled_out(&mut chars, &mut spans);
        Self {
            original,
            chars,
            spans,
            joined: OnceCell::new(),
        }
    }

    /// The original text of folded chars `start..end` (non-empty).
    fn original_text(&self, start: usize, end: usize) -> &'a str {
        &self.original[self.spans[start].0..self.spans[end - 1].1]
    }

    fn contains(&self, needle: &str) -> bool {
        self.joined
            .get_or_init(|| self.chars.iter().collect())
            .contains(needle)
    }
}

/// Letters spelled out one by one (`G-P-T`, `Q.w.e.n`, `g p t`): at least three single
/// letters, each separated from the next by one `-`, `.`, `_`, `*` or space, are joined into
/// one word (`gpt`), so a name cannot hide between separators.
fn join_spelled_out(chars: &mut Vec<char>, spans: &mut Vec<(usize, usize)>) {
    let single = |t: &[char], i: usize| {
        t[i].is_alphabetic()
            && (i == 0 || !t[i - 1].is_alphanumeric())
            && t.get(i + 1).is_none_or(|n| !n.is_alphanumeric())
    };
    let is_sep = |c: char| matches!(c, '-' | '.' | '_' | '*' | ' ');
    let mut drop = vec![false; chars.len()];
    let mut i = 0;
    while i < chars.len() {
        if !single(chars, i) {
            i += 1;
            continue;
        }
        // A run: letter (sep letter)*, the same separator throughout.
        let mut letters = vec![i];
        let mut j = i;
        while j + 2 < chars.len()
            && is_sep(chars[j + 1])
            && chars[j + 1] == chars[i + 1]
            && single(chars, j + 2)
        {
            letters.push(j + 2);
            j += 2;
        }
        if letters.len() >= 3 {
            for w in letters.windows(2) {
                drop[w[0] + 1] = true;
            }
        }
        i = j + 1;
    }
    if drop.iter().any(|d| *d) {
        let mut k = 0;
        chars.retain(|_| {
            k += 1;
            !drop[k - 1]
        });
        let mut k = 0;
        spans.retain(|_| {
            k += 1;
            !drop[k - 1]
        });
    }
}

fn fold_char(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
        '\u{2010}' | '\u{2011}' => '-',
        '\u{00A0}' | '\u{202F}' => ' ',
        c => c,
    }
}

fn fold_str(s: &str) -> Vec<char> {
    s.chars()
        .flat_map(|c| fold_char(c).to_lowercase())
        .collect()
}

/// One spelling to look for, folded like the answer.
struct Pattern {
    chars: Vec<char>,
    rules: Rules,
}

fn table_patterns() -> &'static [Pattern] {
    static PATTERNS: OnceLock<Vec<Pattern>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        NAMES
            .iter()
            .flat_map(|name| {
                name.spellings.iter().map(|s| Pattern {
                    chars: fold_str(s),
                    rules: name.rules,
                })
            })
            .collect()
    })
}

fn is_ordinary_word(word: &[char]) -> bool {
    let word: String = word.iter().collect();
    COMMON_WORDS.contains(&word.as_str())
        || NAMES.iter().any(|name| {
            name.rules.kind == Kind::Ordinary && name.spellings.contains(&word.as_str())
        })
}

/// Patterns for the arena's own model names and their family words.
fn extra_patterns<S: AsRef<str>>(names: &[S]) -> Vec<Pattern> {
    let rules = Name::new(Kind::Distinctive, &[]).rules;
    let mut patterns: Vec<Pattern> = Vec::new();
    let mut add = |chars: Vec<char>| {
        if chars.len() >= 3
            && !is_ordinary_word(&chars)
            && !patterns.iter().any(|p| p.chars == chars)
        {
            patterns.push(Pattern { chars, rules });
        }
    };
    for name in names {
        let name = name.as_ref().trim_matches(|c: char| !c.is_alphanumeric());
        if name.chars().count() < 3 {
            continue;
        }
        add(fold_str(name));
        // The family word: "SmolLM2-135M-Instruct (temperature 0.2)" → "smollm", and
        // "Qwen/Qwen2.5-0.5B" → "qwen".
        let last = name.rsplit('/').next().unwrap_or(name);
        let family: String = last
            .chars()
            .take_while(|c| !c.is_ascii_digit() && !"-_ .():/".contains(*c))
            .collect();
        add(fold_str(&family));
    }
    patterns
}

impl Pattern {
    /// Where the match of this name starting at word start `i` ends, if it is one.
    fn match_at(&self, text: &Folded, i: usize) -> Option<usize> {
        let t = &text.chars;
        let e = match_literal(t, i, &self.chars)?;
        let r = self.rules;
        if !self.chars.last().is_some_and(|c| c.is_alphanumeric()) {
            // An arena name ending in ")" or similar: nothing to check after it.
            return Some(e);
        }
        if let Some(spoiler) = r.spoiled_by
            && text.contains(spoiler)
        {
            return None;
        }
        if !r.whole_word
            && let Some(end) = version_tail(t, e, r)
        {
            return Some(end);
        }
        match r.kind {
            Kind::Distinctive if at_boundary(t, e) => {
                let fixed_phrase = (r.given_name && names_a_person(text, i, e))
                    || next_word_is(t, e, r.not_before);
                (!fixed_phrase).then_some(e)
            }
            Kind::Distinctive if !r.whole_word && self.chars.len() >= 4 => BASQUE_ENDINGS
                .iter()
                .find_map(|ending| word_at(t, e, ending)),
            Kind::Distinctive => None,
            Kind::Ordinary if at_boundary(t, e) => self_reference(t, i, e, r).then_some(e),
            Kind::Ordinary => basque_agent(t, e).then_some(e),
        }
    }
}

/// Matches `pat` at `i`; a space in `pat` matches a run of white space, a hyphen or an underscore.
fn match_literal(t: &[char], i: usize, pat: &[char]) -> Option<usize> {
    let mut j = i;
    for &p in pat {
        if p == ' ' {
            match t.get(j) {
                Some(c) if c.is_whitespace() => j = skip_ws(t, j),
                Some('-' | '_') => j += 1,
                _ => return None,
            }
        } else if t.get(j) == Some(&p) {
            j += 1;
        } else {
            return None;
        }
    }
    Some(j)
}

fn at_boundary(t: &[char], j: usize) -> bool {
    t.get(j).is_none_or(|c| !c.is_alphanumeric())
}

fn skip_ws(t: &[char], mut j: usize) -> usize {
    while t.get(j).is_some_and(|c| c.is_whitespace()) {
        j += 1;
    }
    j
}

/// `word` (lower-case ASCII) as a whole word at `j`: where it ends.
fn word_at(t: &[char], j: usize, word: &str) -> Option<usize> {
    let end = j + word.len();
    let matches = word
        .chars()
        .enumerate()
        .all(|(n, c)| t.get(j + n) == Some(&c));
    (matches && at_boundary(t, end)).then_some(end)
}

fn starts_with(t: &[char], j: usize, prefix: &str) -> bool {
    prefix
        .chars()
        .enumerate()
        .all(|(n, c)| t.get(j + n) == Some(&c))
}

/// `pat` (a space matching a run of white space) ends right before `s` and starts a word: where it
/// starts.
fn ends_before(t: &[char], s: usize, pat: &str) -> Option<usize> {
    let mut j = s;
    for p in pat.chars().rev() {
        if p == ' ' {
            if j == 0 || !t[j - 1].is_whitespace() {
                return None;
            }
            while j > 0 && t[j - 1].is_whitespace() {
                j -= 1;
            }
        } else if j > 0 && t[j - 1] == p {
            j -= 1;
        } else {
            return None;
        }
    }
    (j == 0 || !t[j - 1].is_alphanumeric()).then_some(j)
}

/// The text before `j` ends a sentence or a clause (or there is none): "As X, …" is about the
/// writer, "known as X, …" is not.
fn clause_start(t: &[char], j: usize) -> bool {
    let mut k = j;
    while k > 0 && t[k - 1].is_whitespace() {
        k -= 1;
    }
    k == 0 || (!t[k - 1].is_alphanumeric() && t[k - 1] != ',')
}

/// A version tail starting at `e` (right after a name): where it ends.
fn version_tail(t: &[char], e: usize, r: Rules) -> Option<usize> {
    let ordinary = r.kind == Kind::Ordinary;
    let sep = match t.get(e) {
        Some(&c @ ('-' | '_' | '.' | ' ')) => Some(c),
        _ => None,
    };
    let j = if sep.is_some() { e + 1 } else { e };
    let hyphen = matches!(sep, Some('-' | '_'));
    let first = match digit_segment(t, j, hyphen) {
        Some(k) => {
            if ordinary && matches!(sep, Some(' ' | '.')) && !looks_like_version(&t[j..k], r) {
                return None;
            }
            k
        }
        None => {
            let words = match (sep, ordinary) {
                (Some('-' | '_'), _) => SUFFIX_WORDS,
                (Some(' '), true) => ORDINARY_SPACE_WORDS,
                (Some(' '), false) => SPACE_WORDS,
                _ => return None,
            };
            word_segment(t, j, words)?
        }
    };
    // More parts: "-4o-mini", " 3.5 Sonnet", and a number after a word ("Claude Opus 4").
    let mut k = first;
    let mut after_word = t[j].is_ascii_alphabetic();
    loop {
        let next = match t.get(k) {
            Some('-' | '_') => {
                digit_segment(t, k + 1, true).or_else(|| word_segment(t, k + 1, SUFFIX_WORDS))
            }
            Some(' ') if after_word => {
                digit_segment(t, k + 1, false).or_else(|| word_segment(t, k + 1, SPACE_WORDS))
            }
            Some(' ') => word_segment(t, k + 1, SPACE_WORDS),
            _ => None,
        };
        match next {
            Some(n) => {
                after_word = t[k + 1].is_ascii_alphabetic();
                k = n;
            }
            None => return Some(k),
        }
    }
}

/// A version part at `j`: a digit, or (after a hyphen) a letter and a digit ("V3", "R1"), then
/// ASCII letters, digits and inner dots ("2.5", "4o", "8x7b", "3.1"). Must end the word.
fn digit_segment(t: &[char], j: usize, letter_start: bool) -> Option<usize> {
    let first = *t.get(j)?;
    let mut k = if first.is_ascii_digit() {
        j + 1
    } else if letter_start
        && first.is_ascii_lowercase()
        && t.get(j + 1).is_some_and(char::is_ascii_digit)
    {
        j + 2
    } else {
        return None;
    };
    loop {
        match t.get(k) {
            Some(c) if c.is_ascii_digit() || c.is_ascii_lowercase() => k += 1,
            Some('.') if t.get(k + 1).is_some_and(char::is_ascii_digit) => k += 2,
            _ => break,
        }
    }
    at_boundary(t, k).then_some(k)
}

fn word_segment(t: &[char], j: usize, words: &[&str]) -> Option<usize> {
    words.iter().find_map(|w| word_at(t, j, w))
}

/// After a space, an ordinary word needs a version-looking tail: "1.5", "3.1", "40b", "8x7b",
/// "4o", and a plain integer only for names where it is a version ("Llama 2"); not "9" (Falcon 9)
/// nor "1.618" (phi).
fn looks_like_version(seg: &[char], r: Rules) -> bool {
    fn digits(s: &[char]) -> bool {
        !s.is_empty() && s.iter().all(char::is_ascii_digit)
    }
    fn short_decimal(s: &[char]) -> bool {
        let mut parts = s.split(|c| *c == '.');
        let whole = parts.next().is_some_and(digits);
        let decimal = parts.next().is_none_or(|d| d.len() == 1 && digits(d));
        whole && decimal && parts.next().is_none()
    }
    match seg {
        s if digits(s) => r.bare_number,
        [core @ .., 'b'] => {
            short_decimal(core) || {
                let mut parts = core.split(|c| *c == 'x');
                parts.next().is_some_and(digits)
                    && parts.next().is_some_and(digits)
                    && parts.next().is_none()
            }
        }
        [core @ .., 'o'] => digits(core),
        s => s.contains(&'.') && short_decimal(s),
    }
}

/// "Claude Monet", "Jean-Claude", "Gemma Chan": the given name of a person.
fn names_a_person(text: &Folded, s: usize, e: usize) -> bool {
    let t = &text.chars;
    if ends_before(t, s, "jean-").is_some() || ends_before(t, s, "jean ").is_some() {
        return true;
    }
    if t.get(e) != Some(&' ') {
        return false;
    }
    let k = e + 1;
    let mut end = k;
    while t.get(end).is_some_and(|c| c.is_alphabetic()) {
        end += 1;
    }
    if end - k < 2 {
        return false;
    }
    let folded: String = t[k..end].iter().collect();
    if SUFFIX_WORDS.contains(&folded.as_str()) || SPACE_WORDS.contains(&folded.as_str()) {
        return false;
    }
    let word = text.original_text(k, end);
    word.chars().next().is_some_and(char::is_uppercase) && word.chars().any(char::is_lowercase)
}

fn next_word_is(t: &[char], e: usize, words: &[&str]) -> bool {
    let j = skip_ws(t, e);
    j > e && words.iter().any(|w| word_at(t, j, w).is_some())
}

/// The ordinary name at `s..e` is the writer's own name, as far as the surrounding words tell.
fn self_reference(t: &[char], s: usize, e: usize, r: Rules) -> bool {
    let before = |pats: &[&str]| pats.iter().find_map(|p| ends_before(t, s, p));
    let model_word_after = || {
        let j = if t.get(e) == Some(&'-') {
            e + 1
        } else {
            skip_ws(t, e)
        };
        j > e && MODEL_WORDS.iter().any(|w| word_at(t, j, w).is_some())
    };
    let by = BY_BEFORE
        .iter()
        .filter_map(|p| ends_before(t, s, p))
        .any(|j| {
            !r.company
                || FIRST_PERSON_BEFORE_BY
                    .iter()
                    .any(|q| ends_before(t, j, q).is_some())
        });
    before(SELF_BEFORE).is_some()
        || by
        || (t.get(e) == Some(&',') && before(CLAUSE_BEFORE).is_some_and(|j| clause_start(t, j)))
        || (before(ARTICLE_BEFORE).is_some() && model_word_after())
        || (before(CLAUSE_ARTICLE_BEFORE).is_some_and(|j| clause_start(t, j)) && model_word_after())
        || described_after(t, e)
        || next_word_is(t, e, &["naiz"])
        || basque_agent(t, e)
}

/// "X, a large language model", "X, an AI assistant", "X, un modelo de lenguaje".
fn described_after(t: &[char], e: usize) -> bool {
    if t.get(e) != Some(&',') {
        return false;
    }
    let j = skip_ws(t, e + 1);
    let Some(j) = ["a", "an", "un", "una"]
        .iter()
        .find_map(|w| word_at(t, j, w))
    else {
        return false;
    };
    let mut j = skip_ws(t, j);
    if let Some(k) = word_at(t, j, "large").or_else(|| word_at(t, j, "gran")) {
        j = skip_ws(t, k);
    }
    DESCRIPTORS.iter().any(|w| word_at(t, j, w).is_some())
}

/// Basque agent: "Mistral-k garatua", "HiTZek sortutako eredua".
fn basque_agent(t: &[char], e: usize) -> bool {
    let mut j = e;
    if t.get(j) == Some(&'-') {
        j += 1;
    }
    if starts_with(t, j, "ek") {
        j += 2;
    } else if starts_with(t, j, "k") {
        j += 1;
    } else {
        return false;
    }
    let k = skip_ws(t, j);
    k > j && BASQUE_AGENT_VERBS.iter().any(|v| starts_with(t, k, v))
}

#[cfg(test)]
mod tests;
