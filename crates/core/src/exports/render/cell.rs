//! A row's cells and their JSON and CSV renderings, written straight into the body's buffer.

use super::TurnRecord;
use serde_json::{Value, json};

/// A side of a battle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// One column's value in a row. The conversation-shaped columns keep a reference to the turns
/// and are written out as JSON when the row is.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    String(String),
    /// One side's conversation: `[{"role": "user", "content": …}, {"role": "assistant", …}, …]`.
    Conversation(&'a [TurnRecord<'a>], Side),
    /// `full_conversation`: each user turn with both answers.
    FullConversation(&'a [TurnRecord<'a>]),
    /// `conv_metadata`: the style features in the arena-human-preference layout.
    Metadata(Box<Metadata>),
    /// Any other JSON (small constant objects).
    Json(Value),
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(s: &'a str) -> Self {
        Cell::Str(s)
    }
}

impl<'a> From<Option<&'a str>> for Cell<'a> {
    fn from(s: Option<&'a str>) -> Self {
        s.map_or(Cell::Null, Cell::Str)
    }
}

impl From<String> for Cell<'_> {
    fn from(s: String) -> Self {
        Cell::String(s)
    }
}

impl From<bool> for Cell<'_> {
    fn from(b: bool) -> Self {
        Cell::Bool(b)
    }
}

impl From<i64> for Cell<'_> {
    fn from(i: i64) -> Self {
        Cell::Int(i)
    }
}

/// Header counts by level (only the total is known).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Headers {
    h1: i64,
    h2: i64,
    h3: i64,
    h4: i64,
    h5: i64,
    h6: i64,
    total: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Lists {
    ordered: i64,
    unordered: i64,
    total: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Bold {
    #[serde(rename = "**")]
    stars: i64,
    #[serde(rename = "__")]
    underscores: i64,
}

/// The style features in the arena-human-preference `conv_metadata` layout.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Metadata {
    sum_assistant_a_tokens: i64,
    sum_assistant_b_tokens: i64,
    header_count_a: Headers,
    header_count_b: Headers,
    list_count_a: Lists,
    list_count_b: Lists,
    bold_count_a: Bold,
    bold_count_b: Bold,
    context_a_tokens: i64,
    context_b_tokens: i64,
}

fn sum(turns: &[TurnRecord], f: impl Fn(&TurnRecord) -> Option<i64>) -> i64 {
    turns.iter().filter_map(f).sum()
}

impl Metadata {
    /// The same JSON as its `Serialize`, written by hand (a row of the full schema has one).
    fn write_json(&self, out: &mut Vec<u8>) {
        let field = |out: &mut Vec<u8>, name: &str, first: bool| {
            out.extend_from_slice(if first { b"{\"" } else { b",\"" });
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
        };
        let headers = |out: &mut Vec<u8>, h: &Headers| {
            for (k, (name, v)) in [
                ("h1", h.h1),
                ("h2", h.h2),
                ("h3", h.h3),
                ("h4", h.h4),
                ("h5", h.h5),
                ("h6", h.h6),
                ("total", h.total),
            ]
            .into_iter()
            .enumerate()
            {
                out.extend_from_slice(if k == 0 { b"{\"" } else { b",\"" });
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":");
                write_int(out, v);
            }
            out.push(b'}');
        };
        let lists = |out: &mut Vec<u8>, l: &Lists| {
            out.extend_from_slice(b"{\"ordered\":");
            write_int(out, l.ordered);
            out.extend_from_slice(b",\"unordered\":");
            write_int(out, l.unordered);
            out.extend_from_slice(b",\"total\":");
            write_int(out, l.total);
            out.push(b'}');
        };
        let bold = |out: &mut Vec<u8>, b: &Bold| {
            out.extend_from_slice(b"{\"**\":");
            write_int(out, b.stars);
            out.extend_from_slice(b",\"__\":");
            write_int(out, b.underscores);
            out.push(b'}');
        };
        field(out, "sum_assistant_a_tokens", true);
        write_int(out, self.sum_assistant_a_tokens);
        field(out, "sum_assistant_b_tokens", false);
        write_int(out, self.sum_assistant_b_tokens);
        field(out, "header_count_a", false);
        headers(out, &self.header_count_a);
        field(out, "header_count_b", false);
        headers(out, &self.header_count_b);
        field(out, "list_count_a", false);
        lists(out, &self.list_count_a);
        field(out, "list_count_b", false);
        lists(out, &self.list_count_b);
        field(out, "bold_count_a", false);
        bold(out, &self.bold_count_a);
        field(out, "bold_count_b", false);
        bold(out, &self.bold_count_b);
        field(out, "context_a_tokens", false);
        write_int(out, self.context_a_tokens);
        field(out, "context_b_tokens", false);
        write_int(out, self.context_b_tokens);
        out.push(b'}');
    }
}

pub(super) fn metadata(t: &[TurnRecord]) -> Cell<'static> {
    let headers = |total| Headers {
        h1: 0,
        h2: 0,
        h3: 0,
        h4: 0,
        h5: 0,
        h6: 0,
        total,
    };
    let lists = |total| Lists {
        ordered: 0,
        unordered: 0,
        total,
    };
    let bold = |stars| Bold {
        stars,
        underscores: 0,
    };
    Cell::Metadata(Box::new(Metadata {
        sum_assistant_a_tokens: sum(t, |x| x.a_tokens),
        sum_assistant_b_tokens: sum(t, |x| x.b_tokens),
        header_count_a: headers(sum(t, |x| x.a_headers)),
        header_count_b: headers(sum(t, |x| x.b_headers)),
        list_count_a: lists(sum(t, |x| x.a_lists)),
        list_count_b: lists(sum(t, |x| x.b_lists)),
        bold_count_a: bold(sum(t, |x| x.a_bold)),
        bold_count_b: bold(sum(t, |x| x.b_bold)),
        context_a_tokens: t.last().and_then(|x| x.prompt_tokens_a).unwrap_or(0),
        context_b_tokens: t.last().and_then(|x| x.prompt_tokens_b).unwrap_or(0),
    }))
}

/// A JSON string, escaped (serde_json's escaper, straight into `out`).
///
/// The same bytes as serde_json writes, faster on the long plain text of prompts and answers:
/// eight bytes at a time are checked for a quote, a backslash or a control byte (SWAR), and runs
/// without one are copied whole.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // The start of the run not yet copied.
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes.get(i..i + 8) {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(word);
            if !needs_escape(u64::from_le_bytes(eight)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ],
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the eight bytes is a quote, a backslash or below 0x20 (exact: the carries of
/// these tests can only add a flag above a byte that is already flagged).
#[inline]
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (control | zero_byte(w ^ (ONES * u64::from(b'"'))) | zero_byte(w ^ (ONES * u64::from(b'\\'))))
        != 0
}

/// An integer, appended to `out`.
fn write_int(out: &mut Vec<u8>, i: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
}

/// `{"role":"…","content":"…"}`
fn write_message(out: &mut Vec<u8>, role: &str, content: &str) {
    out.extend_from_slice(b"{\"role\":\"");
    out.extend_from_slice(role.as_bytes());
    out.extend_from_slice(b"\",\"content\":");
    write_str(out, content);
    out.push(b'}');
}

fn message(role: &str, content: &str) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("role".into(), role.into());
    m.insert("content".into(), content.into());
    Value::Object(m)
}

impl Cell<'_> {
    /// The cell as JSON, appended to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Cell::Null => out.extend_from_slice(b"null"),
            Cell::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Cell::Int(i) => write_int(out, *i),
            Cell::Float(f) => {
                let _ = serde_json::to_writer(&mut *out, f);
            }
            Cell::Str(s) => write_str(out, s),
            Cell::String(s) => write_str(out, s),
            Cell::Conversation(turns, side) => {
                out.push(b'[');
                for (i, t) in turns.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_message(out, "user", &t.prompt);
                    out.push(b',');
                    write_message(out, "assistant", t.answer(*side));
                }
                out.push(b']');
            }
            Cell::FullConversation(turns) => {
                out.push(b'[');
                for (i, t) in turns.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"user\":");
                    write_message(out, "user", &t.prompt);
                    out.extend_from_slice(b",\"model_side_a\":");
                    write_message(out, "assistant", &t.a);
                    out.extend_from_slice(b",\"model_side_b\":");
                    write_message(out, "assistant", &t.b);
                    out.push(b'}');
                }
                out.push(b']');
            }
            Cell::Metadata(m) => m.write_json(out),
            Cell::Json(v) => {
                let _ = serde_json::to_writer(&mut *out, v);
            }
        }
    }

    /// The cell as a JSON value (what [`Cell::write_json`] writes, parsed).
    pub fn to_value(&self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Int(i) => Value::from(*i),
            Cell::Float(f) => json!(f),
            Cell::Str(s) => Value::from(*s),
            Cell::String(s) => Value::from(s.as_str()),
            Cell::Conversation(turns, side) => Value::Array(
                turns
                    .iter()
                    .flat_map(|t| {
                        [
                            message("user", &t.prompt),
                            message("assistant", t.answer(*side)),
                        ]
                    })
                    .collect(),
            ),
            Cell::FullConversation(turns) => Value::Array(
                turns
                    .iter()
                    .map(|t| {
                        json!({"user": message("user", &t.prompt),
                               "model_side_a": message("assistant", &t.a),
                               "model_side_b": message("assistant", &t.b)})
                    })
                    .collect(),
            ),
            Cell::Metadata(m) => serde_json::to_value(m).unwrap_or(Value::Null),
            Cell::Json(v) => v.clone(),
        }
    }

    /// The cell as a Parquet value (what [`Cell::to_value`] is, with a struct's fields in the
    /// Parquet schema's order: the order [`Cell::write_json`] writes them in).
    #[cfg(feature = "parquet")]
    pub fn into_datum(self) -> arena_parquet::Datum {
        use arena_parquet::Datum;
        use std::borrow::Cow;
        let text = |s: &str| Datum::Str(Cow::Owned(s.to_owned()));
        let message = |role: &'static str, content: &str| {
            Datum::Struct(vec![Datum::Str(Cow::Borrowed(role)), text(content)])
        };
        match self {
            Cell::Null => Datum::Null,
            Cell::Bool(b) => Datum::Bool(b),
            Cell::Int(i) => Datum::Int(i),
            Cell::Float(f) => Datum::Float(f),
            Cell::Str(s) => text(s),
            Cell::String(s) => Datum::Str(Cow::Owned(s)),
            Cell::Conversation(turns, side) => Datum::List(
                turns
                    .iter()
                    .flat_map(|t| {
                        [
                            message("user", &t.prompt),
                            message("assistant", t.answer(side)),
                        ]
                    })
                    .collect(),
            ),
            Cell::FullConversation(turns) => Datum::List(
                turns
                    .iter()
                    .map(|t| {
                        Datum::Struct(vec![
                            message("user", &t.prompt),
                            message("assistant", &t.a),
                            message("assistant", &t.b),
                        ])
                    })
                    .collect(),
            ),
            Cell::Metadata(m) => {
                let ints = |v: &[i64]| Datum::Struct(v.iter().map(|i| Datum::Int(*i)).collect());
                let h = |h: &Headers| ints(&[h.h1, h.h2, h.h3, h.h4, h.h5, h.h6, h.total]);
                let l = |l: &Lists| ints(&[l.ordered, l.unordered, l.total]);
                let b = |b: &Bold| ints(&[b.stars, b.underscores]);
                Datum::Struct(vec![
                    Datum::Int(m.sum_assistant_a_tokens),
                    Datum::Int(m.sum_assistant_b_tokens),
                    h(&m.header_count_a),
                    h(&m.header_count_b),
                    l(&m.list_count_a),
                    l(&m.list_count_b),
                    b(&m.bold_count_a),
                    b(&m.bold_count_b),
                    Datum::Int(m.context_a_tokens),
                    Datum::Int(m.context_b_tokens),
                ])
            }
            Cell::Json(v) => Datum::Json(v),
        }
    }

    /// The cell as a CSV field (RFC 4180), appended to `out`: text as is, nested values as
    /// their JSON text, null as nothing; quoted when needed. A text that a spreadsheet would
    /// run as a formula (it begins with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a
    /// leading `'`, and so does one that begins with `'` itself, so that the importer can take
    /// exactly one `'` off again ([`csv_unescape`]).
    fn write_csv(&self, out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
        let (text, is_text): (&[u8], bool) = match self {
            Cell::Null => return,
            Cell::Str(s) => (s.as_bytes(), true),
            Cell::String(s) => (s.as_bytes(), true),
            other => {
                scratch.clear();
                other.write_json(scratch);
                (scratch, false)
            }
        };
        let guarded = is_text && text.first().is_some_and(|c| CSV_GUARDED.contains(c));
        if text
            .iter()
            .any(|c| matches!(c, b',' | b'"' | b'\n' | b'\r'))
        {
            out.push(b'"');
            if guarded {
                out.push(b'\'');
            }
            for part in text.split_inclusive(|c| *c == b'"') {
                out.extend_from_slice(part);
                if part.last() == Some(&b'"') {
                    out.push(b'"');
                }
            }
            out.push(b'"');
        } else {
            if guarded {
                out.push(b'\'');
            }
            out.extend_from_slice(text);
        }
    }
}

/// The first bytes of a CSV text cell that get a leading `'` (see `write_csv`).
const CSV_GUARDED: &[u8] = b"=+-@\t\r'";

/// A CSV text cell as the arena wrote it, back to its text: one leading `'` before a guarded
/// first character is taken off (other cells are left as they are).
pub fn csv_unescape(cell: &str) -> &str {
    match cell.as_bytes() {
        [b'\'', second, ..] if CSV_GUARDED.contains(second) => &cell[1..],
        _ => cell,
    }
}

/// A row: the schema's columns in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<'a>(pub Vec<(&'static str, Cell<'a>)>);

impl<'a> Row<'a> {
    pub fn keys(&self) -> Vec<&'static str> {
        self.0.iter().map(|(k, _)| *k).collect()
    }

    /// The column `key` as a JSON value (null when the row has no such column).
    pub fn get(&self, key: &str) -> Value {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(Value::Null, |(_, v)| v.to_value())
    }

    /// The columns as JSON values, in order (what Parquet's writer takes).
    pub fn into_values(self) -> impl Iterator<Item = (&'static str, Value)> + use<'a> {
        self.0.into_iter().map(|(k, v)| (k, v.to_value()))
    }

    /// One JSON object on one line, columns in order, with the newline.
    pub fn json_line(&self) -> String {
        let mut out = Vec::new();
        self.write_json_line(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// [`Row::json_line`], written straight into `out`.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            v.write_json(out);
        }
        out.extend_from_slice(b"}\n");
    }

    /// The CSV header line: the column names.
    pub fn write_csv_header(&self, out: &mut Vec<u8>) {
        let mut scratch = Vec::new();
        for (i, (k, _)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            Cell::Str(k).write_csv(out, &mut scratch);
        }
        out.push(b'\n');
    }

    /// One CSV line (with its newline), appended to `out`; `scratch` is reused between rows.
    pub fn write_csv_line(&self, out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
        for (i, (_, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            v.write_csv(out, scratch);
        }
        out.push(b'\n');
    }

    pub fn csv_header(&self) -> String {
        let mut out = Vec::new();
        self.write_csv_header(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    pub fn csv_line(&self) -> String {
        let mut out = Vec::new();
        self.write_csv_line(&mut out, &mut Vec::new());
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
