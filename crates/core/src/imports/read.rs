//! Reading an import file into rows (JSON objects) with their line numbers, on a blocking
//! thread: JSON lines (one object per line; blank lines skipped), CSV with a header (RFC 4180,
//! quoted fields may span lines; the line number is where the record starts; empty fields are
//! absent), and Parquet (row numbers, 1-based, when built with the `parquet` feature).

use arena_domain::export::Format;
use arena_domain::import::READ_FIELDS;
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read};

/// A row read from the file: its fields, and for a JSON line the line itself (stored as the
/// row's payload as the file had it, with no second serialisation). A JSON line's `fields` are
/// only those the importer reads ([`READ_FIELDS`]): the conversations are checked but not built.
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

/// A JSON object's fields that [`parse_row`](arena_domain::import::parse_row) reads; the others
/// are checked as JSON and skipped without being built.
struct ReadFields(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for ReadFields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// A key, kept only when it is read.
        struct Key(Option<String>);
        impl<'de> serde::Deserialize<'de> for Key {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct KeyVisitor;
                impl serde::de::Visitor<'_> for KeyVisitor {
                    type Value = Key;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
                        Ok(Key(READ_FIELDS.contains(&v).then(|| v.to_owned())))
                    }
                }
                d.deserialize_str(KeyVisitor)
            }
        }
        struct ObjectVisitor;
        impl<'de> serde::de::Visitor<'de> for ObjectVisitor {
            type Value = ReadFields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ReadFields, A::Error> {
                let mut out = Map::new();
                while let Some(Key(key)) = map.next_key::<Key>()? {
                    match key {
                        Some(key) => {
                            let value = map.next_value::<Value>()?;
                            out.insert(key, value);
                        }
                        None => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(ReadFields(out))
            }
        }
        d.deserialize_map(ObjectVisitor)
    }
}

/// The fields of a JSON line that the importer reads, or why the line is not a JSON object.
pub fn read_fields(line: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<ReadFields>(line) {
        Ok(ReadFields(fields)) => Ok(fields),
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            Err("not a JSON object".to_owned())
        }
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

/// A row, or why a line could not even be read as a row.
pub type ReadRow = (u64, Result<FileRow, String>);

/// How the message of a row beyond the import's bounds begins: such a row ends the import.
pub const OVER_BUDGET: &str = "over the import budget";

/// The rows of a file in `format`, within `bounds`.
pub fn rows(
    format: Format,
    input: Box<dyn Read + Send>,
    bounds: crate::config::ImportSettings,
) -> Result<Box<dyn Iterator<Item = ReadRow> + Send>, String> {
    match format {
        Format::Jsonl => Ok(jsonl(input, bounds.max_row_bytes)),
        Format::Csv => csv(input),
        #[cfg(feature = "parquet")]
        Format::Parquet => parquet(input, bounds),
        #[allow(unreachable_patterns)]
        other => Err(format!(
            "{} files cannot be imported by this build",
            other.as_str()
        )),
    }
}

/// The lines of a reader, none read past `max` bytes: a longer line is an error of its own
/// (`Ok(Err(len))`), after which nothing more is read.
struct BoundedLines<R> {
    reader: BufReader<R>,
    max: u64,
    done: bool,
}

impl<R: Read> Iterator for BoundedLines<R> {
    type Item = std::io::Result<Result<String, u64>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf = Vec::new();
        let read = (&mut self.reader)
            .take(self.max.saturating_add(1))
            .read_until(b'\n', &mut buf);
        match read {
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
            Ok(0) => None,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                    if buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                } else if buf.len() as u64 > self.max {
                    self.done = true;
                    return Some(Ok(Err(buf.len() as u64)));
                }
                Some(
                    String::from_utf8(buf)
                        .map(Ok)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
                )
            }
        }
    }
}

/// The rows of a JSON lines file whose lines are at most `max_row_bytes` long (a longer one
/// ends the reading: [`OVER_BUDGET`]).
pub fn jsonl(
    input: impl Read + Send + 'static,
    max_row_bytes: u64,
) -> Box<dyn Iterator<Item = ReadRow> + Send> {
    let lines = BoundedLines {
        reader: BufReader::with_capacity(1 << 20, input),
        max: max_row_bytes,
        done: false,
    };
    Box::new(
        lines
            .enumerate()
            .filter_map(move |(i, line)| {
                let n = i as u64 + 1;
                match line {
                    Err(e) => Some((n, Err(format!("unreadable: {e}")))),
                    Ok(Err(_)) => Some((
                        n,
                        Err(format!(
                            "{OVER_BUDGET}: line {n} is longer than imports.max_row_bytes = \
                             {max_row_bytes} bytes"
                        )),
                    )),
                    Ok(Ok(l)) if l.trim().is_empty() => None,
                    Ok(Ok(l)) => Some((
                        n,
                        read_fields(&l).map(|fields| FileRow {
                            fields,
                            raw: Some(l),
                        }),
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
                        // The arena's CSV guards formula-like text with a leading '.
                        let v = crate::exports::render::csv_unescape(v);
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

/// The rows of a Parquet file, within `bounds`. Parquet is read by offset (its footer first):
/// the input is copied to a temporary file (deleted at once: it lives while it is open), never
/// held in memory, and read a few rows at a time (see [`arena_parquet::read_rows_bounded`]).
#[cfg(feature = "parquet")]
fn parquet(
    mut input: Box<dyn Read + Send>,
    bounds: crate::config::ImportSettings,
) -> Result<Box<dyn Iterator<Item = ReadRow> + Send>, String> {
    let path = std::env::temp_dir().join(format!("arena-import-{}.parquet", uuid::Uuid::new_v4()));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            format!(
                "unreadable: cannot spool the file to {}: {e}",
                path.display()
            )
        })?;
    let _ = std::fs::remove_file(&path);
    std::io::copy(&mut input, &mut file).map_err(|e| format!("unreadable: {e}"))?;
    let bounds = arena_parquet::ReadBounds {
        max_row_bytes: bounds.max_row_bytes,
        max_file_rows: bounds.max_file_rows,
    };
    let rows = arena_parquet::read_rows_bounded(file, bounds).map_err(|e| match e {
        arena_parquet::ParquetIoError::OverBudget(_) => e.to_string(),
        e => format!("not a readable Parquet file: {e}"),
    })?;
    let mut last = 0;
    Ok(Box::new(rows.map(move |row| match row {
        Ok((n, m)) => {
            last = n;
            (n, Ok(m.into()))
        }
        Err(e @ arena_parquet::ParquetIoError::OverBudget(_)) => (last + 1, Err(e.to_string())),
        Err(e) => (last + 1, Err(format!("unreadable row: {e}"))),
    })))
}
