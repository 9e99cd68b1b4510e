//! The arena's one text normaliser, for the places where a look-alike must not pass for the
//! real thing: usernames (`рtаdmin` in Cyrillic beside `ptadmin`), passwords (the NFC and NFD
//! forms of one password), and the vendor-name flag (`Q\u{200b}wen`, `Ａlibaba`).
//!
//! Three steps, each from a Unicode standard:
//! 1. **NFKC** (UAX #15): compatibility forms become the plain ones (`Ａ` → `A`, `ﬁ` → `fi`).
//! 2. **Invisible characters removed**: every Default_Ignorable_Code_Point (zero-width spaces
//!    and joiners, bidi controls, the soft hyphen, Hangul fillers, variation selectors, tags)
//!    and the other format characters that render as nothing ([`is_invisible`]).
//! 3. **Confusables folded to their skeleton** (UTS #39, `confusables.txt`): `skeleton("рtаdmin")
//!    == skeleton("ptadmin")`. For a comparison key ([`skeleton`]) the text is lower-cased
//!    first and combining marks are dropped after (`ptadmiṅ` is `ptadmin`); for scanning
//!    running text ([`fold_char`]) only non-ASCII characters are folded, and only to ASCII, so
//!    ASCII text never changes (TR39 maps `m` to `rn`, which a scanner must not do).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Default_Ignorable_Code_Point (Unicode 15.1 `DerivedCoreProperties.txt`), plus the format
/// characters (General_Category Cf) that are not in it but render as nothing in running text.
const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFF8}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// Whether `c` renders as nothing: a default-ignorable code point or an invisible format
/// character (see the module's list).
pub fn is_invisible(c: char) -> bool {
    INVISIBLE.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// NFKC with the invisible characters removed (steps 1 and 2).
pub fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| !is_invisible(*c))
        .nfkc()
        .filter(|c| !is_invisible(*c))
        .collect()
}

/// The comparison key of an identifier: [`normalise`], lower case (usernames are kept in
/// lower case), the UTS #39 skeleton, no combining marks, lower case again (a prototype may be
/// a capital). Two strings
/// with one key look alike; the key is for comparing, never for showing.
pub fn skeleton(s: &str) -> String {
    let lower = normalise(s).to_lowercase();
    let folded: String = unicode_security::skeleton(&lower).collect();
    folded
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
}

/// One character of running text as a scanner should read it: nothing for an invisible
/// character; an ASCII character as it is; otherwise its NFKC form, each resulting non-ASCII
/// character replaced by its skeleton without marks when that is ASCII (Cyrillic `а` → `a`,
/// Greek `ο` → `o`, `ṅ` → `n`), else kept (`ß`, `ж`, CJK stay themselves).
pub fn fold_char(c: char) -> impl Iterator<Item = char> {
    // ASCII, nearly every character of an answer, without an allocation.
    if c.is_ascii() {
        return Folded::One(Some(c));
    }
    let mut out: Vec<char> = Vec::new();
    if !is_invisible(c) {
        for k in std::iter::once(c).nfkc().filter(|k| !is_invisible(*k)) {
            if k.is_ascii() {
                out.push(k);
                continue;
            }
            let mut buf = [0u8; 4];
            let folded: String = unicode_security::skeleton(k.encode_utf8(&mut buf))
                .collect::<String>()
                .nfd()
                .filter(|m| !is_combining_mark(*m))
                .collect();
            if !folded.is_empty() && folded.is_ascii() {
                out.extend(folded.chars());
            } else {
                out.push(k);
            }
        }
    }
    Folded::Many(out.into_iter())
}

/// [`fold_char`]'s characters: one as it is, or what folding made of it.
enum Folded {
    One(Option<char>),
    Many(std::vec::IntoIter<char>),
}

impl Iterator for Folded {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        match self {
            Folded::One(c) => c.take(),
            Folded::Many(chars) => chars.next(),
        }
    }
}

/// [`fold_char`] over a whole text.
pub fn fold(s: &str) -> String {
    s.chars().flat_map(fold_char).collect()
}

/// Characters that show: not white space, not invisible (a password of eight spaces or eight
/// zero-width characters has none).
pub fn visible_len(s: &str) -> usize {
    s.chars()
        .filter(|c| !c.is_whitespace() && !is_invisible(*c))
        .count()
}

#[cfg(test)]
mod tests;
