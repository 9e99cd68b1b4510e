//! The import's reading side, on a blocking thread: every row of the file parsed, checked and
//! rendered as a line of Postgres' COPY text format, in batches for the writing side.
//!
//! Two targets: a source that has no rows yet gets them straight into `source_vote` (model ids
//! resolved here, rows repeated within the file left out here, the counts tallied here); a
//! source that has rows gets them through a temporary table, where the database resolves the
//! models and leaves out the rows it already has.

use super::{BadLine, ImportOptions, read};
use arena_domain::export::Format;
use arena_domain::import::{When, model_key, parse_row};
use arena_domain::vote::Winner;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use uuid::Uuid;

const BATCH_ROWS: usize = 5_000;

/// A model the file names that the database did not have when the import began.
#[derive(Debug, Clone)]
pub(super) struct NewModel {
    pub id: Uuid,
    pub key: String,
    pub name: String,
}

/// Parsed rows on their way to `COPY`.
pub(super) struct Batch {
    pub copy: Vec<u8>,
    /// Rows read (good and bad).
    pub rows: u64,
    /// Rows rendered into `copy`.
    pub copied: u64,
    pub bad: Vec<BadLine>,
    /// Models first named in this batch: they must exist before its rows go in directly.
    pub models: Vec<NewModel>,
}

impl Batch {
    fn new() -> Self {
        Batch {
            copy: Vec::with_capacity(1 << 20),
            rows: 0,
            copied: 0,
            bad: Vec::new(),
            models: Vec::new(),
        }
    }
}

use crate::leaderboard::counts::ImportedCell as CountKey;

/// Where the rows go (see the module docs).
pub(super) enum Target {
    Staging,
    Direct {
        source: Uuid,
        /// Row keys rendered so far: a key repeated in the file goes in once.
        keys: HashSet<String>,
        /// Wins of a, wins of b, ties and both-bad per cell, of the counted rows.
        counts: HashMap<CountKey, [i64; 4]>,
    },
}

impl Target {
    /// The COPY statement of this target.
    pub fn statement(&self) -> &'static str {
        match self {
            Target::Staging => {
                "copy import_rows (row_key, model_a, model_b, winner, counted, language,
                                   voted_at, turn, payload) from stdin"
            }
            Target::Direct { .. } => {
                "copy source_vote (source_id, row_key, model_a_id, model_b_id, winner, counted,
                                   language, voted_at, turn, payload) from stdin"
            }
        }
    }
}

/// What the reading side hands back at the end: the direct target's counts.
pub(super) struct Tally {
    pub counts: HashMap<CountKey, [i64; 4]>,
}

/// The bytes read so far, hashed as they pass.
pub(super) struct Hashing<R> {
    pub inner: R,
    pub hasher: Arc<Mutex<Sha256>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut h) = self.hasher.lock() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// A field of Postgres' COPY text format.
fn copy_field(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(value) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

fn timestamp(when: &When) -> Result<chrono::DateTime<chrono::Utc>, String> {
    match when {
        When::Unix(secs) => {
            let whole = secs.floor();
            let nanos = ((secs - whole) * 1e9).round().min(999_999_999.0) as u32;
            chrono::DateTime::from_timestamp(whole as i64, nanos)
                .ok_or_else(|| format!("tstamp: {secs} is out of range"))
        }
        When::Text(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.to_utc())
            .or_else(|_| {
                ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d"]
                    .iter()
                    .find_map(|f| {
                        chrono::NaiveDateTime::parse_from_str(text, f)
                            .ok()
                            .or_else(|| {
                                chrono::NaiveDate::parse_from_str(text, f)
                                    .ok()
                                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                            })
                    })
                    .map(|t| t.and_utc())
                    .ok_or(())
            })
            .map_err(|_| format!("timestamp: {text:?} is not a date-time")),
    }
}

/// The reading side's state across rows.
struct Parser {
    schema: arena_domain::export::Schema,
    csv: bool,
    target: Target,
    /// Every model key seen so far (the database's, then the file's new ones) with its id.
    models: HashMap<String, Uuid>,
}

impl Parser {
    /// The id of model `key`, a new one (recorded in `new`) the first time the file names it.
    fn model(&mut self, key: &str, name: &str, new: &mut Vec<NewModel>) -> Uuid {
        if let Some(id) = self.models.get(key) {
            return *id;
        }
        let id = Uuid::now_v7();
        self.models.insert(key.to_owned(), id);
        new.push(NewModel {
            id,
            key: key.to_owned(),
            name: name.chars().take(200).collect(),
        });
        id
    }

    /// One row into a COPY line of `batch` (or why not).
    fn row(&mut self, row: read::FileRow, batch: &mut Batch) -> Result<(), String> {
        let read::FileRow { mut fields, raw } = row;
        if self.csv {
            read::unflatten(&mut fields);
        }
        let vote = parse_row(self.schema, &fields).map_err(|e| e.to_string())?;
        let a = model_key(&vote.model_a).map_err(|e| e.to_string())?;
        let b = model_key(&vote.model_b).map_err(|e| e.to_string())?;
        if a == b {
            return Err(format!(
                "model_b: {:?} and {:?} are the same model",
                vote.model_a, vote.model_b
            ));
        }
        let when = vote.when.as_ref().map(timestamp).transpose()?;
        // A row without an id of its own is keyed by a hash of its fields in JSON (keys in
        // order: the same row in any format, or spelt differently, gets the same key).
        let mut canonical = None;
        let mut fields = Some(fields);
        let key = match vote.key {
            Some(k) => k,
            None => {
                let text = Value::Object(fields.take().unwrap_or_default()).to_string();
                let key = format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())));
                canonical = Some(text);
                key
            }
        };
        // A JSON line is stored as the file had it; other formats as their fields in JSON.
        let payload = match (raw, canonical) {
            (Some(line), _) => line,
            (None, Some(text)) => text,
            (None, None) => Value::Object(fields.unwrap_or_default()).to_string(),
        };
        let id_a = self.model(&a, &vote.model_a, &mut batch.models);
        let id_b = self.model(&b, &vote.model_b, &mut batch.models);
        let language = vote.language.as_deref().unwrap_or("");
        let (source, a_field, b_field) = match &mut self.target {
            Target::Staging => (None, a, b),
            Target::Direct {
                source,
                keys,
                counts,
            } => {
                if !keys.insert(key.clone()) {
                    // The same row again: in once, as the database would have it.
                    return Ok(());
                }
                if vote.counted {
                    let day = when.map(|t| t.date_naive());
                    let cell = counts
                        .entry((id_a, id_b, language.to_owned(), day))
                        .or_default();
                    cell[match vote.winner {
                        Winner::ModelA => 0,
                        Winner::ModelB => 1,
                        Winner::Tie => 2,
                        Winner::BothBad => 3,
                    }] += 1;
                }
                (Some(source.to_string()), id_a.to_string(), id_b.to_string())
            }
        };
        let turn = vote.turn.map(|t| t.to_string());
        let when = when.map(|t| t.to_rfc3339());
        let out = &mut batch.copy;
        if let Some(source) = &source {
            copy_field(out, Some(source));
            out.push(b'\t');
        }
        let fields: [Option<&str>; 9] = [
            Some(&key),
            Some(&a_field),
            Some(&b_field),
            Some(vote.winner.as_str()),
            Some(if vote.counted { "t" } else { "f" }),
            Some(language),
            when.as_deref(),
            turn.as_deref(),
            Some(&payload),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            copy_field(out, *f);
        }
        out.push(b'\n');
        batch.copied += 1;
        Ok(())
    }
}

/// Reads and parses every row (blocking), sending batches until the file ends. `models`: the
/// database's model keys and ids when the import began.
pub(super) fn parse_all(
    options: &ImportOptions,
    input: Box<dyn Read + Send>,
    target: Target,
    models: HashMap<String, Uuid>,
    batches: mpsc::Sender<Batch>,
) -> Result<Tally, String> {
    let rows = read::rows(options.format, input)?;
    let mut parser = Parser {
        schema: options.schema,
        csv: options.format == Format::Csv,
        target,
        models,
    };
    let mut batch = Batch::new();
    for (line, row) in rows {
        batch.rows += 1;
        if let Err(message) = row.and_then(|row| parser.row(row, &mut batch)) {
            batch.bad.push(BadLine { line, message });
        }
        if batch.rows as usize >= BATCH_ROWS {
            let full = std::mem::replace(&mut batch, Batch::new());
            if batches.blocking_send(full).is_err() {
                break;
            }
        }
    }
    let _ = batches.blocking_send(batch);
    Ok(Tally {
        counts: match parser.target {
            Target::Direct { counts, .. } => counts,
            Target::Staging => HashMap::new(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_escape_what_copy_reads_specially() {
        let mut out = Vec::new();
        copy_field(&mut out, Some("a\tb\\c\nd\re"));
        assert_eq!(out, b"a\\tb\\\\c\\nd\\re");
        out.clear();
        copy_field(&mut out, None);
        assert_eq!(out, b"\\N");
        out.clear();
        copy_field(&mut out, Some("plain ünïcode"));
        assert_eq!(out, "plain ünïcode".as_bytes());
    }
}
