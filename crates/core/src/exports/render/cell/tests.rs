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
