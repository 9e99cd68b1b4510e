//! The body of an export in its format: JSONL and CSV lines gathered into chunks of about
//! 64 KiB, or Parquet row groups (one chunk each, then the footer). Either way a chunk leaves as
//! soon as it is ready, so memory holds one chunk or one row group, whatever the export's size.

use super::render::Row;
use crate::error::{ArenaError, ArenaResult};
use arena_domain::export::{Format, Schema};

const CHUNK: usize = 64 * 1024;

/// Whether this build writes `format` (Parquet needs the `parquet` cargo feature, on by default).
pub fn available(format: Format) -> bool {
    format != Format::Parquet || cfg!(feature = "parquet")
}

/// The refusal of a format this build does not write (a 422 before anything is sent).
pub(super) fn unavailable(format: Format) -> ArenaError {
    ArenaError::invalid(
        "invalid_field",
        format!(
            "format: {format} is not available in this build (the server was built without the \
             `parquet` cargo feature); use jsonl or csv",
            format = format.as_str()
        ),
    )
}

pub(super) enum Body {
    Text {
        format: Format,
        buffer: Vec<u8>,
        header_written: bool,
        /// A CSV field's JSON text, reused from row to row.
        scratch: Vec<u8>,
    },
    #[cfg(feature = "parquet")]
    Parquet(Box<arena_parquet::ParquetWriter>),
}

impl Body {
    pub(super) fn new(schema: Schema, format: Format) -> ArenaResult<Body> {
        match format {
            Format::Jsonl | Format::Csv => Ok(Body::Text {
                format,
                buffer: Vec::with_capacity(CHUNK + 4096),
                header_written: false,
                scratch: Vec::new(),
            }),
            #[cfg(feature = "parquet")]
            Format::Parquet => arena_parquet::ParquetWriter::new(schema)
                .map(|w| Body::Parquet(Box::new(w)))
                .map_err(parquet_error),
            #[cfg(not(feature = "parquet"))]
            Format::Parquet => {
                let _ = schema;
                Err(unavailable(format))
            }
        }
    }

    /// Adds a row; returns a chunk when one is ready to send.
    pub(super) fn push(&mut self, row: Row<'_>) -> ArenaResult<Option<Vec<u8>>> {
        match self {
            Body::Text {
                format,
                buffer,
                header_written,
                scratch,
            } => {
                if *format == Format::Csv {
                    if !*header_written {
                        row.write_csv_header(buffer);
                        *header_written = true;
                    }
                    row.write_csv_line(buffer, scratch);
                } else {
                    row.write_json_line(buffer);
                }
                Ok((buffer.len() >= CHUNK)
                    .then(|| std::mem::replace(buffer, Vec::with_capacity(CHUNK + 4096))))
            }
            #[cfg(feature = "parquet")]
            Body::Parquet(writer) => {
                let bytes = writer
                    .push_row(row.0.into_iter().map(|(k, v)| (k, v.into_datum())))
                    .map_err(parquet_error)?;
                Ok((!bytes.is_empty()).then_some(bytes))
            }
        }
    }

    /// The rest of the body (Parquet: the last row group and the footer).
    pub(super) fn finish(self) -> ArenaResult<Vec<u8>> {
        match self {
            Body::Text { buffer, .. } => Ok(buffer),
            #[cfg(feature = "parquet")]
            Body::Parquet(writer) => writer.finish().map_err(parquet_error),
        }
    }
}

#[cfg(feature = "parquet")]
fn parquet_error(e: arena_parquet::ParquetIoError) -> ArenaError {
    ArenaError::Internal(format!("export parquet: {e}"))
}

#[cfg(all(test, feature = "parquet"))]
mod tests {
    use super::super::render::{self, ExportRecord, TurnRecord};
    use super::*;

    fn record(winner: &'static str, turns: usize, k: i64) -> ExportRecord<'static> {
        ExportRecord {
            vote_id: k,
            battle_id: uuid::Uuid::from_u128(k as u128),
            turn_index: turns as i32 - 1,
            model_a: "x",
            model_b: "y",
            winner,
            counted: true,
            voided: k % 2 == 0,
            void_reason: (k % 2 == 0).then_some("spam"),
            flagged: false,
            identity_leak: false,
            anonymous: true,
            language: (k % 3 != 0).then_some("eu"),
            created_at: chrono::DateTime::from_timestamp_millis(1_700_000_000_123 + k * 1000)
                .unwrap(),
            voter: "h4sh",
            campaign: "arena",
            axes: (k % 2 == 1).then_some(r#"{"content":"model_a","language":"tie"}"#),
            registration: (k % 2 == 1).then_some(r#"{"education":"university"}"#),
            turns: (0..turns)
                .map(|i| TurnRecord {
                    prompt: format!("q{i}, \"quoted\"\n```fn main() {{}}```").into(),
                    a: format!("a{i} ✓").into(),
                    b: format!("b{i}").into(),
                    a_tokens: Some(3),
                    b_tokens: None,
                    a_headers: Some(1),
                    b_headers: Some(0),
                    a_lists: None,
                    b_lists: Some(2),
                    a_bold: None,
                    b_bold: Some(1),
                    prompt_tokens_a: Some(10),
                    prompt_tokens_b: None,
                })
                .collect(),
        }
    }

    /// The Parquet schemas and `render::row` agree: every schema's rendered rows write, and read
    /// back as the JSON objects of the JSONL lines.
    #[test]
    fn parquet_rows_read_back_as_the_jsonl_rows() {
        for schema in Schema::ALL {
            let records: Vec<ExportRecord> = ["model_a", "model_b", "tie", "both_bad"]
                .iter()
                .enumerate()
                .flat_map(|(k, w)| (1..=2).map(move |t| record(w, t, k as i64 * 2 + t as i64)))
                .collect();
            let rows: Vec<Row> = records
                .iter()
                .filter_map(|r| render::row(schema, r))
                .collect();
            let mut body = Body::new(schema, Format::Parquet).unwrap();
            let mut file = Vec::new();
            for row in &rows {
                file.extend(body.push(row.clone()).unwrap().unwrap_or_default());
            }
            file.extend(body.finish().unwrap());
            let back: Vec<serde_json::Value> =
                arena_parquet::read_rows(arena_parquet::Bytes::from(file))
                    .unwrap()
                    .map(|r| serde_json::Value::Object(r.unwrap().1))
                    .collect();
            let jsonl: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| serde_json::from_str(&r.json_line()).unwrap())
                .collect();
            assert_eq!(back, jsonl, "{schema}");
            assert!(!back.is_empty());
        }
    }

    #[test]
    fn text_chunks_leave_at_about_64_kib() {
        let r = record("model_a", 1, 1);
        let row = render::row(Schema::Dpo, &r).unwrap();
        let mut body = Body::new(Schema::Dpo, Format::Csv).unwrap();
        let mut chunks = Vec::new();
        for _ in 0..3000 {
            chunks.extend(body.push(row.clone()).unwrap());
        }
        assert!(!chunks.is_empty());
        assert!(
            chunks
                .iter()
                .all(|c| c.len() >= CHUNK && c.len() < CHUNK + 4096)
        );
        assert!(chunks[0].starts_with(b"prompt,chosen,rejected,"));
        assert!(available(Format::Parquet));
    }
}
