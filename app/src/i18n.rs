//! The UI's languages: English, Basque and Spanish. Texts live in `app/locales/*.toml`, compiled
//! in by `build.rs` (a missing key or placeholder fails the build). The language is chosen from
//! the `arena_lang` cookie (set by `/lang/{code}`, the switch in the top bar), else the
//! browser's `Accept-Language`, else English; the server renders the page in it (with
//! `<html lang>`), and the browser reads it back from `<html lang>` when it hydrates.

include!(concat!(env!("OUT_DIR"), "/i18n.rs"));

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The cookie that remembers the choice.
pub const COOKIE: &str = "arena_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    En,
    Eu,
    Es,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Eu, Lang::Es];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Eu => "eu",
            Lang::Es => "es",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The best of ours in an `Accept-Language` header (by q-value, then order).
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut offers: Vec<(f32, usize, Lang)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut pieces = part.split(';');
                let lang = Lang::parse(pieces.next()?)?;
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                    .unwrap_or(1.0);
                (q > 0.0).then_some((q, i, lang))
            })
            .collect();
        offers.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        offers.first().map(|o| o.2)
    }

    /// The choice of a request: its cookie, else its `Accept-Language`, else English.
    pub fn of_request(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        cookie
            .and_then(|c| {
                c.split(';').find_map(|kv| {
                    let (k, v) = kv.trim().split_once('=')?;
                    (k == COOKIE).then(|| Lang::parse(v)).flatten()
                })
            })
            .or_else(|| accept_language.and_then(Lang::from_accept_language))
            .unwrap_or_default()
    }

    fn table(self) -> &'static [&'static str] {
        match self {
            Lang::En => &EN,
            Lang::Eu => &EU,
            Lang::Es => &ES,
        }
    }

    /// The text of `key` in this language.
    pub fn text(self, key: Key) -> &'static str {
        let index = Key::ALL.iter().position(|k| *k == key).unwrap_or(0);
        self.table()[index]
    }
}

/// The language of the page being rendered (server) or hydrated (browser).
pub fn detect() -> Lang {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .map(|parts| {
                let header = |name: http::HeaderName| {
                    parts
                        .headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                Lang::of_request(
                    header(http::header::COOKIE).as_deref(),
                    header(http::header::ACCEPT_LANGUAGE).as_deref(),
                )
            })
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        leptos::web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.get_attribute("lang"))
            .and_then(|l| Lang::parse(&l))
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        Lang::default()
    }
}

/// The page's language (provided by [`crate::App`]).
pub fn lang() -> Lang {
    use_context::<Lang>().unwrap_or_default()
}

/// A text in the page's language.
pub fn t(key: Key) -> &'static str {
    lang().text(key)
}

/// A text with its `{name}` placeholder filled in.
pub fn tf(key: Key, name: &str, value: impl std::fmt::Display) -> String {
    t(key).replace(&format!("{{{name}}}"), &value.to_string())
}

/// Fills `{name}` with `value`. Basque texts mark a case ending after a placeholder as
/// `{name}(e)tik` (from) or `{name}(e)ra` (to): after a number or a time the ending follows the
/// last word as it is read (`14:50etik`, `…berrogeita hamar`; `2026-12-07tik`, `…zazpi`); a
/// value that ends in a letter already carries its case (`hasieratik`) and is put as it is.
pub fn fill(text: &str, name: &str, value: &str) -> String {
    let placeholder = format!("{{{name}}}");
    let mut out = text.to_owned();
    for (marker, after_vowel, after_consonant) in
        [("(e)tik", "tik", "etik"), ("(e)ra", "ra", "era")]
    {
        let marked = format!("{placeholder}{marker}");
        if out.contains(&marked) {
            let ending = match eu_reading_ends_in_consonant(value) {
                Some(true) => after_consonant,
                Some(false) => after_vowel,
                None => "",
            };
            out = out.replace(&marked, &format!("{value}{ending}"));
        }
    }
    out.replace(&placeholder, value)
}

/// Whether the Basque reading of the number or time that `value` ends with ends in a
/// consonant (`bat`, `bost`, `hamar`, `hamabost`, `ehun`…), or None if `value` does not end
/// in a digit. A time `HH:MM` is read by its minutes, or by its hour at `:00`.
fn eu_reading_ends_in_consonant(value: &str) -> Option<bool> {
    let value = value.trim_end();
    if !value.ends_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let tail: String = value
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit() || *c == ':')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut parts = tail.split(':').filter(|p| !p.is_empty());
    let first = parts.next()?;
    let number = match parts.next() {
        Some(minutes) if minutes.trim_start_matches('0').is_empty() => first,
        Some(minutes) => minutes,
        None => first,
    };
    let n: u64 = number.parse().ok()?;
    Some(eu_number_ends_in_consonant(n))
}

/// The Basque number words end in a consonant for 1 (bat), 5 (bost), 10 (hamar), 15
/// (hamabost) and the hundreds (ehun, berrehun…); the rest (bi, hiru, lau, sei…, hogei,
/// mila, zero) in a vowel. Above 20 the last word decides (hogeita *bat*).
fn eu_number_ends_in_consonant(n: u64) -> bool {
    let r = n % 100;
    if r == 0 {
        return !n.is_multiple_of(1000);
    }
    let last = if r < 20 || r.is_multiple_of(20) {
        r
    } else {
        r % 20
    };
    matches!(last, 1 | 5 | 10 | 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basque_case_endings_follow_the_number_as_it_is_read() {
        let from_to = "{from}(e)tik {to}(e)ra (UTC).";
        let case = |a: &str, b: &str| fill(&fill(from_to, "from", a), "to", b);
        assert_eq!(
            case("2026-12-07 14:50", "2026-12-21 14:00"),
            "2026-12-07 14:50etik 2026-12-21 14:00ra (UTC)."
        );
        assert_eq!(
            case("2026-12-01", "2026-12-15"),
            "2026-12-01etik 2026-12-15era (UTC)."
        );
        assert_eq!(case("09:30", "10:05"), "09:30etik 10:05era (UTC).");
        assert_eq!(case("12:20", "12:41"), "12:20tik 12:41era (UTC).");
        assert_eq!(
            case("hasieratik", "amaiera-datarik gabe"),
            "hasieratik amaiera-datarik gabe (UTC)."
        );
        assert_eq!(
            fill(" {time}(e)tik", "time", "2026-12-07 11:11"),
            " 2026-12-07 11:11tik"
        );
        assert_eq!(fill(" since {time}", "time", "11:11"), " since 11:11");
        for (n, consonant) in [
            (0, false),
            (1, true),
            (2, false),
            (3, false),
            (4, false),
            (5, true),
            (6, false),
            (7, false),
            (8, false),
            (9, false),
            (10, true),
            (11, false),
            (12, false),
            (15, true),
            (16, false),
            (20, false),
            (21, true),
            (25, true),
            (30, true),
            (31, false),
            (35, true),
            (40, false),
            (50, true),
            (55, true),
            (59, false),
            (60, false),
            (70, true),
            (80, false),
            (90, true),
            (100, true),
            (200, true),
            (1000, false),
            (2026, false),
            (2031, false),
            (2041, true),
            (2100, true),
        ] {
            assert_eq!(eu_number_ends_in_consonant(n), consonant, "{n}");
        }
    }

    /// Texts that are rightly the same as the English one in a language.
    const SAME_AS_ENGLISH: &[(&str, &str)] = &[("es", "provisional"), ("es", "endpoints")];

    /// No language has a text still in English (an untranslated key), beyond the list above.
    #[test]
    fn every_text_is_translated() {
        for lang in [Lang::Eu, Lang::Es] {
            for key in Key::ALL {
                let (ours, english) = (lang.text(*key), Lang::En.text(*key));
                assert!(!ours.trim().is_empty());
                if ours == english {
                    assert!(
                        SAME_AS_ENGLISH.contains(&(lang.code(), key.name())),
                        "{}: {} is still English: {english:?}",
                        lang.code(),
                        key.name()
                    );
                }
            }
        }
    }

    #[test]
    fn the_choice_is_the_cookie_then_accept_language() {
        assert_eq!(Lang::of_request(None, None), Lang::En);
        assert_eq!(
            Lang::of_request(None, Some("eu-ES,eu;q=0.9,es;q=0.8")),
            Lang::Eu
        );
        assert_eq!(
            Lang::of_request(None, Some("fr-FR, es;q=0.5, en;q=0.7")),
            Lang::En
        );
        assert_eq!(Lang::of_request(None, Some("fr, de")), Lang::En);
        assert_eq!(
            Lang::of_request(Some("a=b; arena_lang=es"), Some("eu")),
            Lang::Es
        );
        assert_eq!(
            Lang::of_request(Some("arena_lang=xx"), Some("eu")),
            Lang::Eu
        );
        assert_eq!(
            tf_in(Lang::Eu, Key::VoteShortcut, "key", 3),
            "Lasterbidea: 3"
        );
    }

    fn tf_in(lang: Lang, key: Key, name: &str, value: impl std::fmt::Display) -> String {
        lang.text(key)
            .replace(&format!("{{{name}}}"), &value.to_string())
    }
}
