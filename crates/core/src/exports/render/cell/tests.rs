use super::*;

/// The escaper writes what serde_json writes: every byte that needs an escape, at every
/// offset in and across the eight-byte words, among ASCII and multi-byte UTF-8.
#[test]
fn strings_are_escaped_as_serde_json_escapes_them() {
    let mut specials: Vec<char> = (0u8..0x20).map(char::from).collect();
    specials.extend(['"', '\\', '/', '\u{7f}', 'é', '✓', '𝄞', ' ']);
    for special in &specials {
        for offset in 0..20 {
            for tail in [0, 1, 7, 8, 9] {
                let s = format!(
                    "{}{special}{}",
                    "a".repeat(offset),
                    "é".repeat(tail) + &"z".repeat(tail)
                );
                let mut ours = Vec::new();
                write_str(&mut ours, &s);
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    serde_json::to_string(&s).unwrap(),
                    "{s:?}"
                );
            }
        }
    }
    let all: String = (0u8..0x80).map(char::from).collect::<String>().repeat(3);
    let mut ours = Vec::new();
    write_str(&mut ours, &all);
    assert_eq!(ours, serde_json::to_vec(&all).unwrap());
}

#[test]
fn metadata_is_written_as_serialized() {
    let turns = [super::super::TurnRecord {
        prompt: "p".into(),
        a: "a".into(),
        b: "b".into(),
        a_tokens: Some(12),
        b_tokens: Some(-3),
        a_headers: Some(1),
        b_headers: None,
        a_lists: Some(2),
        b_lists: Some(i64::MAX),
        a_bold: None,
        b_bold: Some(4),
        prompt_tokens_a: Some(9),
        prompt_tokens_b: None,
    }];
    let Cell::Metadata(m) = metadata(&turns) else {
        panic!("not metadata")
    };
    let mut ours = Vec::new();
    m.write_json(&mut ours);
    assert_eq!(ours, serde_json::to_vec(&m).unwrap());
}

/// Text a spreadsheet would run as a formula is written with a leading `'` (and so is text
/// that begins with `'`); the importer takes exactly that `'` off again. Numbers and JSON are
/// written as they are.
#[test]
fn csv_text_that_looks_like_a_formula_is_guarded_and_reads_back() {
    let cases = [
        (
            "=HYPERLINK(\"http://x\")",
            "\"'=HYPERLINK(\"\"http://x\"\")\"",
        ),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "\"'\rx\""),
        ("'=already", "''=already"),
        ("'quoted", "''quoted"),
        ("plain", "plain"),
        ("", ""),
    ];
    for (text, written) in cases {
        let mut out = Vec::new();
        Cell::Str(text).write_csv(&mut out, &mut Vec::new());
        assert_eq!(String::from_utf8(out).unwrap(), written, "{text:?}");
        // What a CSV reader hands back (the field without its quoting), unescaped.
        let field = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(written.as_bytes())
            .records()
            .next()
            .map(|r| r.unwrap()[0].to_owned())
            .unwrap_or_default();
        assert_eq!(csv_unescape(&field), text, "{written:?}");
    }
    // Foreign text that merely begins with ' is left alone by the importer.
    assert_eq!(csv_unescape("'hello"), "'hello");
    for number in [Cell::from(-3i64), Cell::from(12i64)] {
        let mut out = Vec::new();
        number.write_csv(&mut out, &mut Vec::new());
        assert!(!out.starts_with(b"'"), "{out:?}");
    }
}
