//! Imports: a public arena dataset (any export schema; JSON lines, CSV or Parquet) loaded as a
//! named, read-only data source (`server import`, or the console's import page).
//!
//! - **All or nothing.** The file is read and parsed on a blocking thread ([`rows`]) and streamed
//!   with `COPY` inside one transaction; the source, the new models and the counts are written in
//!   the same transaction. A malformed row stops the import before anything is committed (every
//!   bad line is reported with its number), unless `skip_bad` leaves those rows out.
//! - **Fast when new.** A source without rows gets them straight into `source_vote` (the models
//!   resolved and the counts tallied while reading); a source with rows gets them through a
//!   temporary table, where the database leaves out the rows it already has.
//! - **Idempotent.** Each row is keyed by the dataset's own id (or a hash of the row); a row
//!   already in the source is not inserted again, so importing the same file twice changes
//!   nothing.
//! - **Separate counts.** Unknown models are created retired (never paired, never on the
//!   arena's own board); the votes count into the source's own counts only
//!   ([`crate::leaderboard::counts::add_imported`], [`crate::leaderboard::counts::add_imported_counts`]),
//!   which the leaderboard fits for `source=`.

pub mod read;
mod rows;

use crate::error::{ArenaError, ArenaResult};
use arena_domain::export::{Format, Schema};
use arena_domain::import::check_source_name;
use rows::{Batch, Hashing, NewModel, Target};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use uuid::Uuid;

/// At most this many bad lines are listed (all are counted).
const LISTED_BAD_LINES: usize = 100;

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
    /// What the file may make the importer decode (`[imports]`).
    pub bounds: crate::config::ImportSettings,
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

    let mut db = pool.begin().await?;
    // The source first, locked: a second import into it waits for this one.
    sqlx::query(
        "insert into data_source (id, name, schema) values ($1, $2, $3)
         on conflict (name) do nothing",
    )
    .bind(Uuid::now_v7())
    .bind(&options.source)
    .bind(options.schema.as_str())
    .execute(&mut *db)
    .await?;
    let source_id: Uuid =
        sqlx::query_scalar("select id from data_source where name = $1 for update")
            .bind(&options.source)
            .fetch_one(&mut *db)
            .await?;
    let empty: bool =
        sqlx::query_scalar("select not exists (select 1 from source_vote where source_id = $1)")
            .bind(source_id)
            .fetch_one(&mut *db)
            .await?;
    let known: HashMap<String, Uuid> =
        sqlx::query_as::<_, (String, Uuid)>("select key, id from model")
            .fetch_all(&mut *db)
            .await?
            .into_iter()
            .collect();
    let target = if empty {
        Target::Direct {
            source: source_id,
            keys: HashSet::new(),
            counts: HashMap::new(),
        }
    } else {
        sqlx::query(
            "create temp table import_rows (
                 row_key text, model_a text, model_b text, winner text, counted boolean,
                 language text, voted_at timestamptz, turn integer, payload text
             ) on commit drop",
        )
        .execute(&mut *db)
        .await?;
        Target::Staging
    };
    let statement = target.statement();
    let (tx, mut rx) = mpsc::channel::<Batch>(4);
    let reader_options = options.clone();
    let reader = tokio::task::spawn_blocking(move || {
        rows::parse_all(&reader_options, input, target, known, tx)
    });

    let (mut rows_read, mut bad_count, mut copied) = (0u64, 0u64, 0u64);
    let mut bad_lines = Vec::new();
    let mut models: Vec<NewModel> = Vec::new();
    let mut models_created: Vec<String> = Vec::new();
    let mut next = rx.recv().await;
    // One COPY per run of batches that name no new model; straight into `source_vote`, a
    // batch's new models are created before its rows.
    while next.is_some() {
        if empty
            && let Some(batch) = &next
            && !batch.models.is_empty()
            && (bad_count == 0 || options.skip_bad)
        {
            models_created.extend(create_models(&mut db, &batch.models, true).await?);
        }
        let mut copy = db.copy_in_raw(statement).await?;
        copy.send(rows::COPY_HEADER).await?;
        while let Some(batch) = next.take() {
            rows_read += batch.rows;
            bad_count += batch.bad.len() as u64;
            for b in batch.bad {
                if bad_lines.len() < LISTED_BAD_LINES {
                    bad_lines.push(b);
                }
            }
            if !empty {
                models.extend(batch.models);
            }
            // Once a row is bad and bad rows stop the import, the rest is only checked.
            if (bad_count == 0 || options.skip_bad) && !batch.copy.is_empty() {
                copy.send(batch.copy).await?;
                copied += batch.copied;
            }
            progress(rows_read);
            next = rx.recv().await;
            if empty && next.as_ref().is_some_and(|b| !b.models.is_empty()) {
                break;
            }
        }
        copy.send(rows::COPY_TRAILER).await?;
        copy.finish().await?;
    }
    let tally = match reader
        .await
        .map_err(|e| ArenaError::Internal(e.to_string()))?
    {
        Ok(tally) => tally,
        Err(message) => return Err(invalid("unreadable_file", message)),
    };
    if bad_count > 0 && !options.skip_bad {
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
        // Returning drops the transaction: nothing of this import is written.
        return Err(invalid(
            "malformed_rows",
            format!(
                "{bad_count} malformed row(s), nothing was imported: {}{more}; fix them, or \
                 leave them out with --skip-bad",
                listed.join("; ")
            ),
        ));
    }
    let file_sha256 = hex::encode(
        hasher
            .lock()
            .map_err(|e| ArenaError::Internal(e.to_string()))?
            .clone()
            .finalize(),
    );

    // The models the file names (unknown ones retired), then the votes and counts.
    // source_vote has no per-row foreign keys (see the migration `source_vote_bulk`): the models
    // the rows name are checked and locked here, once, until the import commits.
    let rows_added = if empty {
        let locked: i64 = sqlx::query_scalar(
            "select count(*) from (select id from model where id = any($1) for key share) m",
        )
        .bind(&tally.models)
        .fetch_one(&mut *db)
        .await?;
        if locked != tally.models.len() as i64 {
            return Err(ArenaError::conflict(
                "models_changed",
                "a model that this file names was deleted while it was being imported; \
                 nothing was imported",
            ));
        }
        crate::leaderboard::counts::add_imported_counts(&mut db, source_id, tally.counts).await?;
        copied
    } else {
        models_created.extend(create_models(&mut db, &models, false).await?);
        sqlx::query(
            "select id from model
             where key in (select model_a from import_rows union select model_b from import_rows)
             for key share",
        )
        .execute(&mut *db)
        .await?;
        crate::leaderboard::counts::add_imported(&mut db, source_id).await? as u64
    };
    models_created.sort();
    let good = rows_read - bad_count;
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

/// Creates the models of `new` that do not exist (retired: never paired, never on the arena's
/// own board), returning the keys created. With `exact`, the rows about to go in name these
/// ids, so a key that someone else created meanwhile stops the import.
async fn create_models(
    db: &mut sqlx::PgConnection,
    new: &[NewModel],
    exact: bool,
) -> ArenaResult<Vec<String>> {
    let ids: Vec<Uuid> = new.iter().map(|m| m.id).collect();
    let keys: Vec<&str> = new.iter().map(|m| m.key.as_str()).collect();
    let names: Vec<&str> = new.iter().map(|m| m.name.as_str()).collect();
    let created: Vec<String> = sqlx::query_scalar(
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
    if exact && created.len() < new.len() {
        return Err(ArenaError::conflict(
            "models_changed",
            "a model that this file names was created while it was being imported; \
             nothing was imported: import it again",
        ));
    }
    Ok(created)
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
