//! Compiles the UI's translations (`locales/{en,eu,es}.toml`, lines `key = "text"`) into
//! `$OUT_DIR/i18n.rs`: a `Key` enum (a key the code names but no file has does not compile) and
//! one table per language. The build fails when a language lacks a key English has, has one
//! English lacks, or a text is empty or loses a `{placeholder}`.

use std::collections::BTreeSet;
use std::fmt::Write;

const LANGUAGES: [&str; 3] = ["en", "eu", "es"];

fn parse(lang: &str) -> Vec<(String, String)> {
    let path = format!("locales/{lang}.toml");
    println!("cargo:rerun-if-changed={path}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{path}:{}: expected key = \"text\"", n + 1));
        let key = key.trim();
        assert!(
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{path}:{}: a key is lower_snake_case",
            n + 1
        );
        let value = value.trim();
        assert!(
            value.len() >= 2 && value.starts_with('"') && value.ends_with('"'),
            "{path}:{}: the text is quoted",
            n + 1
        );
        let mut text = String::new();
        let mut chars = value[1..value.len() - 1].chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => text.push('\n'),
                    Some('"') => text.push('"'),
                    Some('\\') => text.push('\\'),
                    other => panic!("{path}:{}: unknown escape {other:?}", n + 1),
                }
            } else {
                text.push(c);
            }
        }
        assert!(
            !text.trim().is_empty(),
            "{path}:{}: empty text for {key}",
            n + 1
        );
        assert!(
            !out.iter().any(|(k, _)| k == key),
            "{path}:{}: {key} twice",
            n + 1
        );
        out.push((key.to_owned(), text));
    }
    out
}

fn placeholders(s: &str) -> BTreeSet<String> {
    s.split('{')
        .skip(1)
        .filter_map(|p| p.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

fn main() {
    let tables: Vec<Vec<(String, String)>> = LANGUAGES.iter().map(|l| parse(l)).collect();
    let english = &tables[0];
    for (lang, table) in LANGUAGES.iter().zip(&tables).skip(1) {
        for (key, text) in english {
            let Some((_, t)) = table.iter().find(|(k, _)| k == key) else {
                panic!("locales/{lang}.toml lacks {key} (English: {text:?})");
            };
            assert_eq!(
                placeholders(text),
                placeholders(t),
                "locales/{lang}.toml: {key} must keep the placeholders of {text:?}"
            );
        }
        if let Some((key, _)) = table
            .iter()
            .find(|(k, _)| !english.iter().any(|(e, _)| e == k))
        {
            panic!("locales/{lang}.toml has {key}, which English lacks");
        }
    }
    let camel = |key: &str| -> String {
        key.split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    };
    let mut out = String::from(
        "/// A text of the UI (one per line of `locales/en.toml`).\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq)]\n#[allow(dead_code)]\npub enum Key {\n",
    );
    for (key, text) in english {
        let _ = writeln!(out, "    /// {text:?}\n    {},", camel(key));
    }
    out += "}\n\nimpl Key {\n    pub const ALL: &[Key] = &[\n";
    for (key, _) in english {
        let _ = writeln!(out, "        Key::{},", camel(key));
    }
    out += "    ];\n\n    pub fn name(self) -> &'static str {\n        match self {\n";
    for (key, _) in english {
        let _ = writeln!(out, "            Key::{} => {key:?},", camel(key));
    }
    out += "        }\n    }\n}\n\n";
    for (lang, table) in LANGUAGES.iter().zip(&tables) {
        let _ = writeln!(
            out,
            "const {}: [&str; {}] = [",
            lang.to_ascii_uppercase(),
            english.len()
        );
        for (key, _) in english {
            let text = &table.iter().find(|(k, _)| k == key).expect("checked").1;
            let _ = writeln!(out, "    {text:?},");
        }
        out += "];\n";
    }
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("i18n.rs");
    std::fs::write(dest, out).expect("write i18n.rs");
}
