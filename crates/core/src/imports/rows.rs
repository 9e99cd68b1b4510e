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
                                   voted_at, turn, payload) from stdin with (format binary)"
            }
            Target::Direct { .. } => {
                "copy source_vote (source_id, row_key, model_a_id, model_b_id, winner, counted,
                                   language, voted_at, turn, payload) from stdin with (format binary)"
            }
        }
    }
}

/// What the reading side hands back at the end: the direct target's counts, and every model
/// its rows name (locked before the import commits).
pub(super) struct Tally {
    pub counts: HashMap<CountKey, [i64; 4]>,
    pub models: Vec<Uuid>,
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

/// Postgres' binary COPY format: the header before a COPY's first row, and the trailer after
/// its last. Fields go as they are (no escaping, no text to parse on either side).
pub(super) const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
pub(super) const COPY_TRAILER: &[u8] = &(-1i16).to_be_bytes();

/// One row's fields in the binary COPY format.
struct Fields<'a>(&'a mut Vec<u8>);

impl Fields<'_> {
    fn start(out: &mut Vec<u8>, count: i16) -> Fields<'_> {
        out.extend_from_slice(&count.to_be_bytes());
        Fields(out)
    }
    fn bytes(&mut self, value: &[u8]) {
        self.0
            .extend_from_slice(&(value.len() as i32).to_be_bytes());
        self.0.extend_from_slice(value);
    }
    fn null(&mut self) {
        self.0.extend_from_slice(&(-1i32).to_be_bytes());
    }
    /// `text` and `json` (whose binary form is its text).
    fn text(&mut self, value: &str) {
        self.bytes(value.as_bytes());
    }
    fn uuid(&mut self, value: Uuid) {
        self.bytes(value.as_bytes());
    }
    fn bool(&mut self, value: bool) {
        self.bytes(&[u8::from(value)]);
    }
    fn int4(&mut self, value: Option<i32>) {
        match value {
            Some(v) => self.bytes(&v.to_be_bytes()),
            None => self.null(),
        }
    }
    /// Microseconds since 2000-01-01 UTC (rounded to the nearest, as Postgres reads text).
    fn timestamptz(&mut self, value: Option<chrono::DateTime<chrono::Utc>>) {
        const POSTGRES_EPOCH_SECS: i64 = 946_684_800;
        match value {
            Some(t) => {
                let micros = (t.timestamp() - POSTGRES_EPOCH_SECS) * 1_000_000
                    + (i64::from(t.timestamp_subsec_nanos()) + 500) / 1000;
                self.bytes(&micros.to_be_bytes());
            }
            None => self.null(),
        }
    }
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
    /// The models that rows name.
    used: HashSet<Uuid>,
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
        // order: the same row in any format, or spelt differently, gets the same key). A JSON
        // line was read only in part: for this (rare) row, read whole.
        let mut canonical = None;
        let mut fields = Some(fields);
        let key = match vote.key {
            Some(k) => k,
            None => {
                let whole = match &raw {
                    Some(line) => serde_json::from_str::<serde_json::Map<String, Value>>(line)
                        .map_err(|e| format!("not JSON: {e}"))?,
                    None => fields.take().unwrap_or_default(),
                };
                let text = Value::Object(whole).to_string();
                let key = format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())));
                canonical = Some(text);
                key
            }
        };
        let id_a = self.model(&a, &vote.model_a, &mut batch.models);
        let id_b = self.model(&b, &vote.model_b, &mut batch.models);
        self.used.insert(id_a);
        self.used.insert(id_b);
        let language = vote.language.as_deref().unwrap_or("");
        let direct = match &mut self.target {
            Target::Staging => None,
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
                Some(*source)
            }
        };
        // A JSON line is stored as the file had it; other formats as their fields in JSON.
        let payload = match (raw, canonical) {
            (Some(line), _) => line,
            (None, Some(text)) => text,
            (None, None) => Value::Object(fields.unwrap_or_default()).to_string(),
        };
        let mut out = Fields::start(&mut batch.copy, if direct.is_some() { 10 } else { 9 });
        match direct {
            Some(source) => {
                out.uuid(source);
                out.text(&key);
                out.uuid(id_a);
                out.uuid(id_b);
            }
            None => {
                out.text(&key);
                out.text(&a);
                out.text(&b);
            }
        }
        out.text(vote.winner.as_str());
        out.bool(vote.counted);
        out.text(language);
        out.timestamptz(when);
        out.int4(vote.turn);
        out.text(&payload);
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
    let rows = read::rows(options.format, input, options.bounds)?;
    let mut parser = Parser {
        schema: options.schema,
        csv: options.format == Format::Csv,
        target,
        models,
        used: HashSet::new(),
    };
    let mut batch = Batch::new();
    for (line, row) in rows {
        batch.rows += 1;
        // A row beyond the import's bounds ends the import: the rest may be a bomb.
        if let Err(message) = &row
            && message.starts_with(read::OVER_BUDGET)
        {
            return Err(message.clone());
        }
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
        models: parser.used.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_fields_are_length_prefixed() {
        let mut out = Vec::new();
        let mut f = Fields::start(&mut out, 3);
        f.text("é\t");
        f.int4(None);
        f.timestamptz(chrono::DateTime::from_timestamp(946_684_801, 1_500));
        assert_eq!(&out[..2], &[0, 3]);
        assert_eq!(&out[2..6], &[0, 0, 0, 3]);
        assert_eq!(&out[6..9], "é\t".as_bytes());
        assert_eq!(&out[9..13], &[0xff; 4]);
        assert_eq!(&out[13..17], &[0, 0, 0, 8]);
        // One second and 1.5 µs after the Postgres epoch: 1,000,002 µs (rounded).
        assert_eq!(&out[17..], &1_000_002i64.to_be_bytes());
        assert_eq!(COPY_HEADER.len(), 19);
    }

    /// The importer reads only [`arena_domain::import::READ_FIELDS`] of a JSON line: for every
    /// schema's rows (as the arena exports them, voided or not, with and without a language),
    /// that gives the same vote as the whole row.
    #[test]
    fn the_fields_read_give_the_same_vote_as_the_whole_row() {
        use crate::exports::render::{self, ExportRecord, TurnRecord};
        use arena_domain::export::Schema;
        for (k, winner) in ["model_a", "model_b", "tie", "both_bad"]
            .into_iter()
            .enumerate()
        {
            let record = ExportRecord {
                vote_id: k as i64 + 1,
                battle_id: uuid::Uuid::from_u128(k as u128),
                turn_index: k as i32 % 2,
                model_a: "Alpha-1",
                model_b: "beta 2",
                winner,
                counted: k != 2,
                voided: k == 2,
                void_reason: (k == 2).then_some("spam"),
                flagged: false,
                identity_leak: false,
                anonymous: true,
                language: (k != 1).then_some("eu"),
                created_at: "2026-12-01T10:00:00.123Z".parse().unwrap(),
                voter: "h4sh",
                campaign: "arena",
                axes: None,
                registration: None,
                turns: (0..=k % 2)
                    .map(|i| TurnRecord {
                        prompt: format!("q{i} \"quoted\"\n").into(),
                        a: format!("a{i}").into(),
                        b: format!("b{i}").into(),
                        a_tokens: Some(3),
                        b_tokens: None,
                        a_headers: None,
                        b_headers: None,
                        a_lists: None,
                        b_lists: None,
                        a_bold: None,
                        b_bold: None,
                        prompt_tokens_a: None,
                        prompt_tokens_b: None,
                    })
                    .collect(),
            };
            for schema in Schema::ALL {
                let Some(row) = render::row(schema, &record) else {
                    continue;
                };
                let line = row.json_line();
                let whole: serde_json::Map<String, Value> = serde_json::from_str(&line).unwrap();
                let read = read::read_fields(&line).unwrap();
                assert!(read.len() < whole.len(), "{schema}: {read:?}");
                assert_eq!(
                    parse_row(schema, &read),
                    parse_row(schema, &whole),
                    "{schema}: {line}"
                );
            }
        }
        assert_eq!(read::read_fields("[1]").unwrap_err(), "not a JSON object");
        assert!(
            read::read_fields("{\"a\": tru}")
                .unwrap_err()
                .starts_with("not JSON")
        );
    }
}
