use super::*;

#[test]
fn look_alike_usernames_share_a_skeleton() {
    // The cases seen on the running arena, then more of each kind.
    let same = [
        ("рtаdmin", "ptadmin"),         // Cyrillic р and а
        ("ptvοl", "ptvol"),             // Greek ο
        ("ptadmin\u{3164}", "ptadmin"), // Hangul filler
        ("ptadmiṅ", "ptadmin"),         // n with a dot above
        ("ptadmin", "PTADMIN"),         // case
        ("ｐｔａｄｍｉｎ", "ptadmin"),  // full width (NFKC)
        ("pt\u{200b}admin", "ptadmin"), // zero-width space
        ("pt\u{200d}admin", "ptadmin"), // zero-width joiner
        ("p\u{2060}tadmin", "ptadmin"), // word joiner
        ("ptadmin\u{00ad}", "ptadmin"), // soft hyphen
        ("ptadmin\u{fe0f}", "ptadmin"), // variation selector
        ("\u{feff}ptadmin", "ptadmin"), // byte-order mark
        ("pt\u{202e}admin", "ptadmin"), // right-to-left override
        ("ptаdmіn", "ptadmin"),         // Cyrillic а and і
        ("ptadm\u{0131}n", "ptadmin"),  // dotless i
        ("pt𝐚dmin", "ptadmin"),         // mathematical bold a
        ("ptɑdmin", "ptadmin"),         // Latin alpha
        ("ptadmⅰn", "ptadmin"),         // Roman numeral one
        ("ptadrnin", "ptadmin"),        // r n beside m
        ("ptadmín", "ptadmin"),         // an accent
        ("pta\u{0301}dmin", "ptádmin"), // NFD and NFC
        ("ѕсоtt", "scott"),             // Cyrillic ѕ, с and о
        ("jon\u{115f}", "jon"),         // Hangul choseong filler
        ("jo\u{034f}n", "jon"),         // combining grapheme joiner
    ];
    for (a, b) in same {
        assert_eq!(skeleton(a), skeleton(b), "{a:?} and {b:?} look alike");
    }
}

#[test]
fn different_names_keep_different_skeletons() {
    for (a, b) in [
        ("ptadmin", "ptadmins"),
        ("ptadmin", "ptadmln"),
        ("jon", "joan"),
        ("ander", "andre"),
        ("miren", "mikel"),
        ("жанна", "ptadmin"),
    ] {
        assert_ne!(skeleton(a), skeleton(b), "{a:?} and {b:?} differ");
    }
}

#[test]
fn invisible_characters_are_recognised() {
    for c in [
        '\u{200b}',
        '\u{200c}',
        '\u{200d}',
        '\u{2060}',
        '\u{3164}',
        '\u{00ad}',
        '\u{feff}',
        '\u{fe0f}',
        '\u{e0041}',
        '\u{202e}',
    ] {
        assert!(is_invisible(c), "{c:?}");
    }
    for c in ['a', ' ', 'ñ', 'ж', '中', '-'] {
        assert!(!is_invisible(c), "{c:?}");
    }
}

#[test]
fn running_text_folds_look_alikes_but_leaves_ascii_alone() {
    assert_eq!(fold("Q\u{200b}wen 2.5"), "Qwen 2.5");
    assert_eq!(fold("built by Ａlibaba"), "built by Alibaba");
    assert_eq!(fold("Сlаudе"), "Claude", "Cyrillic С, а, е");
    assert_eq!(fold("gemma rn m"), "gemma rn m", "ASCII never changes");
    assert_eq!(fold("Iñaki jan du"), "Inaki jan du");
    assert_eq!(fold("привет"), fold("привет"));
    assert!(fold("ж中").contains('ж') && fold("ж中").contains('中'));
}

#[test]
fn visible_length_ignores_spaces_and_invisibles() {
    assert_eq!(visible_len("        "), 0);
    assert_eq!(visible_len(&"\u{200b}".repeat(8)), 0);
    assert_eq!(visible_len("a b c d"), 4);
    assert_eq!(visible_len("pasahitza"), 9);
    assert_eq!(visible_len("ñññ"), 3);
}
