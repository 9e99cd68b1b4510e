//! Reading an import file into rows (JSON objects) with their line numbers, on a blocking
//! thread: JSON lines (one object per line; blank lines skipped), CSV with a header (RFC 4180,
//! quoted fields may span lines; the line number is where the record starts; empty fields are
//! absent), and Parquet (row numbers, 1-based, when built with the `parquet` feature).

use arena_domain::export::Format;
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read};

/// A row read from the file: its fields, and for a JSON line the line itself (stored as the
/// row's payload as the file had it, with no second serialisation).
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    pub fields: Map<String, Value>,
    pub raw: Option<String>,
}

impl From<Map<String, Value>> for FileRow {
    fn from(fields: Map<String, Value>) -> Self {
        FileRow { fields, raw: None }
    }
}

/// A row, or why a line could not even be read as a row.
pub type ReadRow = (u64, Result<FileRow, String>);

/// The rows of a file in `format`.
pub fn rows(
    format: Format,
    input: Box<dyn Read + Send>,
) -> Result<Box<dyn Iterator<Item = ReadRow> + Send>, String> {
    match format {
        Format::Jsonl => Ok(jsonl(input)),
        Format::Csv => csv(input),
        #[cfg(feature = "parquet")]
        Format::Parquet => parquet(input),
        #[allow(unreachable_patterns)]
        other => Err(format!(
            "{} files cannot be imported by this build",
            other.as_str()
        )),
    }
}

/// The rows of a JSON lines file.
pub fn jsonl(input: impl Read + Send + 'static) -> Box<dyn Iterator<Item = ReadRow> + Send> {
    let lines = BufReader::with_capacity(1 << 20, input).lines();
    Box::new(
        lines
            .enumerate()
            .filter_map(|(i, line)| {
                let n = i as u64 + 1;
                match line {
                    Err(e) => Some((n, Err(format!("unreadable: {e}")))),
                    Ok(l) if l.trim().is_empty() => None,
                    Ok(l) => Some((
                        n,
                        match serde_json::from_str::<Value>(&l) {
                            Ok(Value::Object(fields)) => Ok(FileRow {
                                fields,
                                raw: Some(l),
                            }),
                            Ok(_) => Err("not a JSON object".to_owned()),
                            Err(e) => Err(format!("not JSON: {e}")),
                        },
                    )),
                }
            })
            // A read error (not a bad line) ends the file.
            .scan(false, |failed, row| {
                if *failed {
                    return None;
                }
                if matches!(&row.1, Err(m) if m.starts_with("unreadable")) {
                    *failed = true;
                }
                Some(row)
            }),
    )
}

/// The rows of a CSV file with a header line.
pub fn csv(
    input: impl Read + Send + 'static,
) -> Result<Box<dyn Iterator<Item = ReadRow> + Send>, String> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(BufReader::with_capacity(1 << 20, input));
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("line 1: no CSV header: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    Ok(Box::new(reader.into_records().map(
        move |record| match record {
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line());
                let mut row = Map::new();
                for (h, v) in headers.iter().zip(r.iter()) {
                    if !v.is_empty() {
                        row.insert(h.clone(), Value::String(v.to_owned()));
                    }
                }
                (line, Ok(row.into()))
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                (line, Err(format!("not CSV: {e}")))
            }
        },
    )))
}

/// The columns that the schemas nest (conversations, metadata): CSV carries them as JSON text.
const NESTED: [&str; 9] = [
    "conversation_a",
    "conversation_b",
    "conv_a",
    "conv_b",
    "full_conversation",
    "conv_metadata",
    "openai_moderation",
    "dedup_tag",
    "category_tag",
];

/// Nested columns of a CSV row are read back into JSON, so that every format stores the same
/// payload. (Kaggle's JSON-array strings are strings in every format and stay so.)
pub fn unflatten(row: &mut Map<String, Value>) {
    for (k, v) in row.iter_mut() {
        if !NESTED.contains(&k.as_str()) {
            continue;
        }
        if let Value::String(s) = v {
            let t = s.trim_start();
            if (t.starts_with('[') || t.starts_with('{'))
                && let Ok(parsed) = serde_json::from_str::<Value>(s)
            {
                *v = parsed;
            }
        }
    }
}

/// The rows of a Parquet file. Parquet is read by offset (its footer first), so the file is
/// held in memory: compressed, a small fraction of the JSON lines of the same rows.
#[cfg(feature = "parquet")]
fn parquet(
    mut input: Box<dyn Read + Send>,
) -> Result<Box<dyn Iterator<Item = ReadRow> + Send>, String> {
    let mut buf = Vec::new();
    input
        .read_to_end(&mut buf)
        .map_err(|e| format!("unreadable: {e}"))?;
    let rows = arena_parquet::read_rows(bytes::Bytes::from(buf))
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let mut last = 0;
    Ok(Box::new(rows.map(move |row| match row {
        Ok((n, m)) => {
            last = n;
            (n, Ok(m.into()))
        }
        Err(e) => (last + 1, Err(format!("unreadable row: {e}"))),
    })))
}
