//! Imports: a public arena dataset (any export schema; JSON lines, CSV or Parquet) loaded as a
//! named, read-only data source (`server import`, or the console's import page).
//!
//! - **All or nothing.** The file is read on a blocking thread and streamed with `COPY` into a
//!   temporary table inside one transaction; the votes, the new models and the source's counts
//!   are written from it in the same transaction. A malformed row stops the import before
//!   anything is committed (every bad line is reported with its number), unless `skip_bad`
//!   leaves those rows out.
//! - **Idempotent.** Each row is keyed by the dataset's own id (or a hash of the row); a row
//!   already in the source is not inserted again, so importing the same file twice changes
//!   nothing.
//! - **Separate counts.** Unknown models are created retired (never paired, never on the
//!   arena's own board); the votes count into the source's own counts only
//!   ([`crate::leaderboard::counts::add_imported`]), which the leaderboard fits for `source=`.

pub mod read;

use crate::error::{ArenaError, ArenaResult};
use arena_domain::export::{Format, Schema};
use arena_domain::import::{When, check_source_name, model_key, parse_row};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use uuid::Uuid;

/// At most this many bad lines are listed (all are counted).
const LISTED_BAD_LINES: usize = 100;
const BATCH_ROWS: usize = 5_000;

/// What to import, and where.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The data source's name (created on first import).
    pub source: String,
    pub schema: Schema,
    pub format: Format,
    /// Leave malformed rows out instead of stopping.
    pub skip_bad: bool,
    /// The file's name, for the import log.
    pub file_name: String,
    /// The admin importing from the console (audited in the same transaction); `None` from
    /// the command line.
    pub actor: Option<crate::accounts::Account>,
}

/// A line that could not be imported.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BadLine {
    pub line: u64,
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportReport {
    pub source: String,
    pub schema: String,
    pub file_sha256: String,
    /// Rows read (good and bad).
    pub rows_read: u64,
    /// Rows new to the source.
    pub rows_added: u64,
    /// Rows the source already had (the same file imported again).
    pub rows_already_there: u64,
    /// Malformed rows left out (`skip_bad`).
    pub rows_skipped: u64,
    /// The first malformed lines, with their numbers.
    pub bad_lines: Vec<BadLine>,
    /// Model keys created (retired) by this import.
    pub models_created: Vec<String>,
}

/// Parsed rows on their way to `COPY`.
struct Batch {
    copy: Vec<u8>,
    rows: u64,
    bad: Vec<BadLine>,
    /// Model keys first seen here, with the name the dataset gives them.
    models: Vec<(String, String)>,
}

/// The bytes read so far, hashed as they pass.
struct Hashing<R> {
    inner: R,
    hasher: Arc<Mutex<Sha256>>,
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
    for b in value.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
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

/// One row into a COPY line (or why not); new model keys go to `models`.
fn copy_line(
    schema: Schema,
    mut row: Map<String, Value>,
    csv: bool,
    seen: &mut BTreeMap<String, String>,
    models: &mut Vec<(String, String)>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if csv {
        read::unflatten(&mut row);
    }
    let vote = parse_row(schema, &row).map_err(|e| e.to_string())?;
    let a = model_key(&vote.model_a).map_err(|e| e.to_string())?;
    let b = model_key(&vote.model_b).map_err(|e| e.to_string())?;
    if a == b {
        return Err(format!(
            "model_b: {:?} and {:?} are the same model",
            vote.model_a, vote.model_b
        ));
    }
    let when = vote.when.as_ref().map(timestamp).transpose()?;
    let payload = Value::Object(row).to_string();
    let key = match vote.key {
        Some(k) => k,
        None => format!("sha256:{}", hex::encode(Sha256::digest(payload.as_bytes()))),
    };
    for (k, name) in [(&a, &vote.model_a), (&b, &vote.model_b)] {
        if !seen.contains_key(k) {
            seen.insert(k.clone(), name.clone());
            models.push((k.clone(), name.chars().take(200).collect()));
        }
    }
    let turn = vote.turn.map(|t| t.to_string());
    let when = when.map(|t| t.to_rfc3339());
    let fields: [Option<&str>; 9] = [
        Some(&key),
        Some(&a),
        Some(&b),
        Some(vote.winner.as_str()),
        Some(if vote.counted { "t" } else { "f" }),
        Some(vote.language.as_deref().unwrap_or("")),
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
    Ok(())
}

/// Reads and parses every row (blocking), sending batches until the file ends.
fn parse_all(
    options: &ImportOptions,
    input: Box<dyn Read + Send>,
    batches: mpsc::Sender<Batch>,
) -> Result<(), String> {
    let rows = read::rows(options.format, input)?;
    let csv = options.format == Format::Csv;
    let mut seen = BTreeMap::new();
    let mut batch = Batch {
        copy: Vec::with_capacity(1 << 20),
        rows: 0,
        bad: Vec::new(),
        models: Vec::new(),
    };
    for (line, row) in rows {
        batch.rows += 1;
        let result = row.and_then(|row| {
            copy_line(
                options.schema,
                row,
                csv,
                &mut seen,
                &mut batch.models,
                &mut batch.copy,
            )
        });
        if let Err(message) = result {
            batch.bad.push(BadLine { line, message });
        }
        if batch.rows as usize >= BATCH_ROWS {
            let full = std::mem::replace(
                &mut batch,
                Batch {
                    copy: Vec::with_capacity(1 << 20),
                    rows: 0,
                    bad: Vec::new(),
                    models: Vec::new(),
                },
            );
            if batches.blocking_send(full).is_err() {
                return Ok(());
            }
        }
    }
    let _ = batches.blocking_send(batch);
    Ok(())
}

fn invalid(code: &'static str, message: impl Into<String>) -> ArenaError {
    ArenaError::invalid(code, message.into())
}

/// Imports `input` (see the module docs). `progress` is told the rows read so far.
pub async fn import(
    pool: &PgPool,
    options: ImportOptions,
    input: Box<dyn Read + Send>,
    progress: impl Fn(u64) + Send,
) -> ArenaResult<ImportReport> {
    check_source_name(&options.source).map_err(|e| invalid("invalid_source", e.message))?;
    let hasher = Arc::new(Mutex::new(Sha256::new()));
    let input: Box<dyn Read + Send> = Box::new(Hashing {
        inner: input,
        hasher: hasher.clone(),
    });
    let (tx, mut rx) = mpsc::channel::<Batch>(4);
    let reader_options = options.clone();
    let reader = tokio::task::spawn_blocking(move || parse_all(&reader_options, input, tx));

    let mut db = pool.begin().await?;
    sqlx::query(
        "create temp table import_rows (
             row_key text, model_a text, model_b text, winner text, counted boolean,
             language text, voted_at timestamptz, turn integer, payload jsonb
         ) on commit drop",
    )
    .execute(&mut *db)
    .await?;
    let mut copy = db
        .copy_in_raw(
            "copy import_rows (row_key, model_a, model_b, winner, counted, language, voted_at,
                               turn, payload) from stdin",
        )
        .await?;
    let (mut rows_read, mut bad_count) = (0u64, 0u64);
    let mut bad_lines = Vec::new();
    let mut models: Vec<(String, String)> = Vec::new();
    while let Some(batch) = rx.recv().await {
        rows_read += batch.rows;
        bad_count += batch.bad.len() as u64;
        for b in batch.bad {
            if bad_lines.len() < LISTED_BAD_LINES {
                bad_lines.push(b);
            }
        }
        models.extend(batch.models);
        // Once a row is bad and bad rows stop the import, the rest is only checked.
        if (bad_count == 0 || options.skip_bad) && !batch.copy.is_empty() {
            copy.send(batch.copy).await?;
        }
        progress(rows_read);
    }
    let read_result = reader
        .await
        .map_err(|e| ArenaError::Internal(e.to_string()))?;
    if let Err(message) = read_result {
        copy.abort(message.clone()).await?;
        return Err(invalid("unreadable_file", message));
    }
    if bad_count > 0 && !options.skip_bad {
        copy.abort("malformed rows").await?;
        let listed: Vec<String> = bad_lines
            .iter()
            .take(10)
            .map(|b| format!("line {}: {}", b.line, b.message))
            .collect();
        let more = if bad_count > 10 {
            format!(" (and {} more)", bad_count - 10)
        } else {
            String::new()
        };
        return Err(invalid(
            "malformed_rows",
            format!(
                "{bad_count} malformed row(s), nothing was imported: {}{more}; fix them, or \
                 leave them out with --skip-bad",
                listed.join("; ")
            ),
        ));
    }
    copy.finish().await?;
    let file_sha256 = hex::encode(
        hasher
            .lock()
            .map_err(|e| ArenaError::Internal(e.to_string()))?
            .clone()
            .finalize(),
    );

    // The source, then the models it names (unknown ones retired), then the votes and counts.
    let source_id: Uuid = sqlx::query_scalar(
        "with new as (
             insert into data_source (id, name, schema) values ($1, $2, $3)
             on conflict (name) do nothing returning id
         )
         select id from new union all select id from data_source where name = $2",
    )
    .bind(Uuid::now_v7())
    .bind(&options.source)
    .bind(options.schema.as_str())
    .fetch_one(&mut *db)
    .await?;
    let (keys, names): (Vec<String>, Vec<String>) = models.into_iter().unzip();
    let ids: Vec<Uuid> = keys.iter().map(|_| Uuid::now_v7()).collect();
    let mut models_created: Vec<String> = sqlx::query_scalar(
        "insert into model (id, key, display_name, active, weight)
         select id, key, name, false, 0 from unnest($1::uuid[], $2::text[], $3::text[])
             as m (id, key, name)
         on conflict (key) do nothing
         returning key",
    )
    .bind(&ids)
    .bind(&keys)
    .bind(&names)
    .fetch_all(&mut *db)
    .await?;
    models_created.sort();
    let good = rows_read - bad_count;
    let rows_added = crate::leaderboard::counts::add_imported(&mut db, source_id).await? as u64;
    let report = ImportReport {
        source: options.source,
        schema: options.schema.as_str().to_owned(),
        file_sha256,
        rows_read,
        rows_added,
        rows_already_there: good - rows_added,
        rows_skipped: bad_count,
        bad_lines,
        models_created,
    };
    let report_json =
        serde_json::to_value(&report).map_err(|e| ArenaError::Internal(e.to_string()))?;
    sqlx::query(
        "insert into source_import (source_id, file_name, file_sha256, schema, rows_read,
                                    rows_added, rows_skipped, models_created, report)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(source_id)
    .bind(&options.file_name)
    .bind(&report.file_sha256)
    .bind(options.schema.as_str())
    .bind(rows_read as i64)
    .bind(rows_added as i64)
    .bind(bad_count as i64)
    .bind(report.models_created.len() as i32)
    .bind(&report_json)
    .execute(&mut *db)
    .await?;
    if let Some(actor) = &options.actor {
        let mut summary = report_json.clone();
        summary["file_name"] = Value::String(options.file_name.clone());
        crate::admin::audit(
            &mut db,
            actor,
            "import",
            &report.source,
            None,
            Some(summary),
        )
        .await?;
    }
    db.commit().await?;
    Ok(report)
}

/// One past import, for the console.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct PastImport {
    pub id: i64,
    pub source: String,
    pub file_name: String,
    pub schema: String,
    pub rows_read: i64,
    pub rows_added: i64,
    pub rows_skipped: i64,
    pub models_created: i32,
    pub report: Option<Value>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The latest imports, newest first.
pub async fn past_imports(pool: &PgPool, limit: i64) -> ArenaResult<Vec<PastImport>> {
    Ok(sqlx::query_as(
        "select i.id, s.name as source, i.file_name, i.schema, i.rows_read, i.rows_added,
                i.rows_skipped, i.models_created, i.report, i.created_at
         from source_import i join data_source s on s.id = i.source_id
         order by i.id desc limit $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// A data source, as listed for the leaderboard's `source=` choice.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DataSource {
    pub name: String,
    pub schema: String,
    pub votes: i64,
    pub counted_votes: i64,
    pub models: i64,
    pub imported_at: chrono::DateTime<chrono::Utc>,
}

/// Every data source, newest first.
pub async fn sources(pool: &PgPool) -> ArenaResult<Vec<DataSource>> {
    Ok(sqlx::query_as(
        "select s.name, s.schema,
                (select count(*) from source_vote v where v.source_id = s.id) as votes,
                (select count(*) from source_vote v where v.source_id = s.id and v.counted)
                    as counted_votes,
                (select count(distinct m) from source_vote v,
                        lateral (values (v.model_a_id), (v.model_b_id)) x (m)
                 where v.source_id = s.id) as models,
                coalesce((select max(created_at) from source_import i where i.source_id = s.id),
                         s.created_at) as imported_at
         from data_source s order by imported_at desc, s.name",
    )
    .fetch_all(pool)
    .await?)
}
