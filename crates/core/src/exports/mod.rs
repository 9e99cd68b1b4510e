//! Research exports: the votes with their conversations, in the public arena schemas, as JSONL,
//! CSV or Parquet, streamed as they are read.
//!
//! - **One snapshot.** An export reads in one read-only repeatable-read transaction: a vote
//!   committed meanwhile is wholly in or wholly out. The manifest names the snapshot's highest
//!   counted-set mark (as rating runs do) and the rating run that saw exactly this vote set.
//! - **Streaming.** Rows go to the client in chunks of about 64 KiB (Parquet: one row group of
//!   at most 4096 rows each) as they are read (a bounded channel: a slow client slows the
//!   reading, memory does not grow with the export). See [`body`].
//! - **Privacy.** The voter id becomes HMAC-SHA-256(`exports.voter_salt`, id); the salt is
//!   configured per release and never exported. Voters who opted out of data release are left
//!   out. No API key, session, client address or endpoint URL is ever read by the query.

mod body;
mod download;
mod pace;
pub mod render;

use crate::Arena;
use crate::error::{ArenaError, ArenaResult};
use arena_domain::export::ExportSpec;
pub use body::available as format_available;
use futures::TryStreamExt;
use pace::{Floor, Paced, Stop};
use render::{ExportRecord, TurnRecord};
use sha2::{Digest, Sha256};
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use std::borrow::Cow;
use std::collections::HashMap;
use tokio::sync::mpsc;

/// What an export was, for its manifest.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Manifest {
    pub schema: String,
    pub schema_version: u32,
    pub format: String,
    pub filters: ExportSpec,
    /// The counted-set mark of the snapshot (highest counted vote or void event).
    pub snapshot_mark: i64,
    /// Highest vote id visible in the snapshot.
    pub max_vote_id: i64,
    pub rows: u64,
    /// SHA-256 of the body, hex.
    pub sha256: String,
    /// The default leaderboard run that saw exactly this vote set, if one did.
    pub rating_run: Option<i64>,
}

/// The export's events: `Started` once its snapshot is taken (before any row), then the body's
/// chunks, then the manifest once everything was sent (or `Failed`).
#[derive(Debug)]
pub enum ExportEvent {
    /// The snapshot is taken; at most this many rows will follow (the votes the vote-level
    /// filters keep; the other filters only leave rows out). For progress indicators.
    Started {
        rows_at_most: u64,
    },
    Chunk(Vec<u8>),
    Done(Box<Manifest>),
    Failed(String),
}

/// HMAC-SHA-256 (RFC 2104) under one key, by hand (eight lines instead of a dependency): the
/// key's two padded blocks are hashed once, so each message costs two compressions.
struct VoterKey {
    inner: Sha256,
    outer: Sha256,
}

impl VoterKey {
    fn new(key: &[u8]) -> VoterKey {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |b: u8| block.map(|k| k ^ b);
        VoterKey {
            inner: Sha256::new().chain_update(pad(0x36)),
            outer: Sha256::new().chain_update(pad(0x5c)),
        }
    }

    fn mac(&self, message: &[u8]) -> [u8; 32] {
        let inner = self.inner.clone().chain_update(message).finalize();
        self.outer.clone().chain_update(inner).finalize().into()
    }

    /// The voter id as exported: the first 16 bytes of the MAC, hex, written into `out`.
    fn voter<'o>(&self, voter: uuid::Uuid, out: &'o mut [u8; 32]) -> &'o str {
        // Sixteen bytes always fit 32 hex digits, which are ASCII.
        let _ = hex::encode_to_slice(&self.mac(voter.as_bytes())[..16], out);
        std::str::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    VoterKey::new(key).mac(message)
}

/// The voter id as exported: HMAC-SHA-256 under the release's salt, hex (the first 16 bytes).
pub fn voter_hash(salt: &[u8], voter: uuid::Uuid) -> String {
    VoterKey::new(salt).voter(voter, &mut [0; 32]).to_owned()
}

/// Column `i` of `row`. `checked`: its type is checked against `T` (the first row of an export;
/// the query's columns have the same types in every row, and the value is still decoded, so
/// invalid bytes are still an error).
fn get<'r, T>(row: &'r PgRow, i: usize, checked: bool) -> ArenaResult<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    Ok(if checked {
        row.try_get(i)?
    } else {
        row.try_get_unchecked(i)?
    })
}

/// One row of [`QUERY`] as an export record, its text borrowed from the row; the columns are
/// read by position (the query's select list). `voter` holds the voter's keyed hash.
fn read_record<'r>(
    row: &'r PgRow,
    checked: bool,
    key: &VoterKey,
    campaigns: &'r HashMap<uuid::Uuid, String>,
    voter: &'r mut [u8; 32],
) -> ArenaResult<ExportRecord<'r>> {
    let campaign_id: uuid::Uuid = get(row, 30, checked)?;
    let campaign = campaigns.get(&campaign_id).ok_or_else(|| {
        ArenaError::Internal(format!("export: no campaign {campaign_id} in the snapshot"))
    })?;
    // An opted-out voter's conversation and answers never leave (`run=` keeps the vote itself).
    let redacted: bool = get(row, 15, checked)?;
    let mut turns: Vec<TurnRecord<'r>> = Vec::new();
    if !redacted {
        if let Some(json) = get::<Option<&str>>(row, 29, checked)? {
            turns = serde_json::from_str(json)
                .map_err(|e| ArenaError::Internal(format!("export turns: {e}")))?;
        }
        // The voted turn, unless it lacks a live answer (nothing to compare; the vote stays).
        let a: Option<&str> = get(row, 17, checked)?;
        let b: Option<&str> = get(row, 18, checked)?;
        if let (Some(a), Some(b)) = (a, b) {
            turns.push(TurnRecord {
                prompt: Cow::Borrowed(get(row, 16, checked)?),
                a: Cow::Borrowed(a),
                b: Cow::Borrowed(b),
                a_tokens: get(row, 19, checked)?,
                b_tokens: get(row, 20, checked)?,
                a_headers: get(row, 21, checked)?,
                b_headers: get(row, 22, checked)?,
                a_lists: get(row, 23, checked)?,
                b_lists: get(row, 24, checked)?,
                a_bold: get(row, 25, checked)?,
                b_bold: get(row, 26, checked)?,
                prompt_tokens_a: get(row, 27, checked)?,
                prompt_tokens_b: get(row, 28, checked)?,
            });
        }
    }
    Ok(ExportRecord {
        vote_id: get(row, 0, checked)?,
        battle_id: get(row, 1, checked)?,
        turn_index: get(row, 2, checked)?,
        model_a: get(row, 3, checked)?,
        model_b: get(row, 4, checked)?,
        winner: get(row, 5, checked)?,
        counted: get(row, 6, checked)?,
        voided: get(row, 7, checked)?,
        void_reason: get(row, 8, checked)?,
        flagged: get(row, 9, checked)?,
        identity_leak: get(row, 10, checked)?,
        anonymous: get(row, 11, checked)?,
        language: get(row, 12, checked)?,
        created_at: get(row, 13, checked)?,
        voter: key.voter(get(row, 14, checked)?, voter),
        turns,
        campaign,
        axes: get(row, 31, checked)?,
        // Personal answers leave only with the voter's conversations.
        registration: if redacted {
            None
        } else {
            get(row, 32, checked)?
        },
    })
}

/// The votes of an export in vote order, one row per vote: its pre-joined row (`export_turn`,
/// written with the vote: the voted turn's prompt and answers, the earlier turns as one JSON
/// array, the battle's fixed fields) beside the vote itself, a merge join on the two primary
/// keys with no sort. What can change after the vote is read live, each from a set built once
/// per export (hashed subplans, which keep the vote order): flagged battles (reported or
/// leaking, not reviewed), opted-out voters, and the campaigns with registrations (only their
/// votes look one up). The campaign comes as its id (the caller maps it to the slug).
/// `$8`/`$9`: a rating run's mark and snapshot (`run=ID`): exactly the counted votes that run
/// saw, not voided as of its snapshot ({not_voided}); a voter's opt-out then redacts the
/// conversation instead of leaving the vote out, so the run still reproduces.
const QUERY: &str = "
select e.vote_id, e.battle_id, e.turn_index, e.model_a, e.model_b,
       v.winner, v.counted, v.voided, v.void_reason,
       e.battle_id in (select f.battle_id
                       from (select battle_id from battle_report
                             union
                             select lt.battle_id from battle_turn lt
                             join answer la on la.turn_id = lt.id
                             where la.identity_leak and not la.discarded) f
                       join battle fb on fb.id = f.battle_id
                       where fb.reviewed_at is null) as flagged,
       e.identity_leak, e.anonymous, e.language, v.created_at, v.voter_id,
       (v.voter_id in (select id from voter where data_release_opt_out)
        or e.battle_id in (select id from battle where redacted_at is not null)) as redacted,
       e.prompt, e.a, e.b, e.a_tokens, e.b_tokens, e.a_headers, e.b_headers,
       e.a_lists, e.b_lists, e.a_bold, e.b_bold, e.prompt_tokens_a, e.prompt_tokens_b,
       e.earlier,
       e.campaign_id,
       e.axes,
       case when e.campaign_id in (select campaign_id from campaign_registration
                                   group by campaign_id) then
           (select reg.answers::text from campaign_registration reg
            where reg.campaign_id = e.campaign_id and reg.voter_id = v.voter_id)
       end as registration
from export_turn e
join vote v on v.id = e.vote_id
where (not $1 or v.counted)
  and ($2 or not v.voided)
  and ($3::date is null or (v.created_at at time zone 'utc')::date >= $3)
  and ($4::date is null or (v.created_at at time zone 'utc')::date <= $4)
  and ($5::text is null or coalesce(e.language, '') = $5)
  and (cardinality($6::text[]) = 0 or e.model_a = any($6) or e.model_b = any($6))
  and (not $7 or e.turn_index = 0)
  and ($10::uuid is null or e.campaign_id = $10)
  and (case when $8::bigint is null
                 then not v.voter_id in (select id from voter where data_release_opt_out)
                      and not e.battle_id in (select id from battle where redacted_at is not null)
            else v.counted
                 and (case when $9::text is null then v.id <= $8
                           else v.txid is null or pg_visible_in_snapshot(v.txid, $9::pg_snapshot)
                      end)
                 and {not_voided}
       end)
order by e.vote_id";

/// See [`run`].
const EXPORT_SETTINGS: &str = "select set_config('jit', 'off', true), \
                               set_config('work_mem', '64MB', true)";

/// The run an export reproduces: its mark, snapshot and filter.
struct RunSet {
    mark: i64,
    snapshot: Option<String>,
}

/// Fills `spec` with the run's own filter (language, dates) and checks the run is the arena's.
async fn run_set(pool: &sqlx::PgPool, spec: &mut ExportSpec, run: i64) -> ArenaResult<RunSet> {
    #[derive(sqlx::FromRow)]
    struct Run {
        max_vote_id: i64,
        snapshot: Option<String>,
        language: Option<String>,
        date_from: Option<chrono::NaiveDate>,
        date_to: Option<chrono::NaiveDate>,
        imported: bool,
        campaign: Option<String>,
        by_votes: bool,
    }
    let row: Option<Run> = sqlx::query_as(
        "select max_vote_id, snapshot, language, date_from, date_to,
                source_id is not null as imported,
                result->'filter'->>'campaign' as campaign,
                (result->'filter'->>'category' is not null
                 or result->'filter'->>'language_by' is not null) as by_votes
         from rating_run where id = $1",
    )
    .bind(run)
    .fetch_optional(pool)
    .await?;
    let Some(Run {
        max_vote_id: mark,
        snapshot,
        language,
        date_from: from,
        date_to: to,
        imported,
        campaign,
        by_votes,
    }) = row
    else {
        return Err(ArenaError::NotFound { what: "rating run" });
    };
    if imported {
        return Err(ArenaError::invalid(
            "invalid_field",
            "run: that run rates an imported data source; its votes are the imported file",
        ));
    }
    if by_votes {
        return Err(ArenaError::invalid(
            "invalid_field",
            "run: a category's or a detected language's run cannot be exported by its id yet; \
             export with the same filters instead",
        ));
    }
    spec.campaign = campaign;
    spec.language = language;
    spec.from = from.map(|d| d.to_string());
    spec.to = to.map(|d| d.to_string());
    spec.counted_only = true;
    // Voided as of the run's snapshot, not as of now (the query's own condition).
    spec.include_voided = true;
    spec.include_flagged = true;
    spec.first_turn_only = false;
    Ok(RunSet { mark, snapshot })
}

impl Arena {
    /// Starts an export with this arena's release salt (see [`start`]), on the research pool,
    /// for an in-process caller (no cap, no reader floor).
    pub async fn export(&self, spec: ExportSpec) -> ArenaResult<mpsc::Receiver<ExportEvent>> {
        start(self.research_pool.clone(), self.export_salt.to_vec(), spec).await
    }
}

/// Starts an export: its events (chunks, then the manifest) arrive on the receiver. The models
/// named in the filter are checked first (an unknown one is a 422, before anything is sent).
pub async fn start(
    pool: sqlx::PgPool,
    salt: Vec<u8>,
    spec: ExportSpec,
) -> ArenaResult<mpsc::Receiver<ExportEvent>> {
    start_with(pool, salt, spec, None, None, None).await
}

/// [`start`], with a reader floor, a held place among running exports (given back when the
/// export ends, however it ends), and the download whose manifest is stored at the end.
pub(super) async fn start_with(
    pool: sqlx::PgPool,
    salt: Vec<u8>,
    spec: ExportSpec,
    floor: Option<Floor>,
    held: Option<crate::limits::Held>,
    download: Option<uuid::Uuid>,
) -> ArenaResult<mpsc::Receiver<ExportEvent>> {
    if !body::available(spec.format) {
        return Err(body::unavailable(spec.format));
    }
    if salt.is_empty() {
        return Err(ArenaError::Unavailable(
            "exports are off until the operator sets exports.voter_salt (the key of the voter \
             hashes of this data release)"
                .into(),
        ));
    }
    let known: Vec<String> = sqlx::query_scalar("select key from model")
        .fetch_all(&pool)
        .await?;
    if let Some(unknown) = spec.models.iter().find(|m| !known.contains(m)) {
        return Err(ArenaError::invalid(
            "invalid_field",
            format!("models: no model has the key {unknown:?}"),
        ));
    }
    if let Some(slug) = &spec.campaign {
        crate::campaigns::by_slug(&pool, slug).await?;
    }
    let mut spec = spec;
    let run_set = match spec.run {
        Some(id) => Some(run_set(&pool, &mut spec, id).await?),
        None => None,
    };
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut out = Paced {
            out: tx.clone(),
            floor,
            waited: std::time::Duration::ZERO,
            waited_bytes: 0,
        };
        let finished = run(pool.clone(), spec, run_set, salt, &mut out).await;
        // The manifest of the bytes sent is stored before the reader learns the body ended.
        if let Some(id) = download {
            let manifest = match &finished {
                Ok(Ok(manifest)) => serde_json::to_value(manifest).ok(),
                _ => None,
            };
            let _ = sqlx::query(
                "update export_download set finished_at = now(), manifest = $2,
                        status = case when $2 is null then 'stopped' else 'done' end
                 where id = $1",
            )
            .bind(id)
            .bind(manifest)
            .execute(&pool)
            .await;
        }
        match finished {
            Ok(Ok(manifest)) => {
                let _ = out.send(ExportEvent::Done(Box::new(manifest))).await;
            }
            Ok(Err(Stop::Gone)) => {}
            Ok(Err(Stop::TooSlow)) => {
                // Dropping the sender without `Done` aborts the download.
                tracing::warn!(
                    min_bytes_per_sec = floor.map_or(0, |f| f.min_bytes_per_sec),
                    "export cut: its reader was slower than the floor"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "export failed");
                let _ = tx.send(ExportEvent::Failed(e.to_string())).await;
            }
        }
        if let Some(held) = held {
            held.release().await;
        }
    });
    Ok(rx)
}

async fn run(
    pool: sqlx::PgPool,
    spec: ExportSpec,
    run_set: Option<RunSet>,
    salt: Vec<u8>,
    out: &mut Paced,
) -> ArenaResult<Result<Manifest, Stop>> {
    let mut db = pool.begin().await?;
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *db)
        .await?;
    // This transaction's planner settings (`set local`: the pooled connection keeps its own):
    // - no JIT: compiling the plan's expressions costs more CPU than it saves;
    // - more memory per hash: the live sets (flagged battles, opted-out voters) stay hashed.
    sqlx::query(EXPORT_SETTINGS).execute(&mut *db).await?;
    let snapshot_mark: i64 = sqlx::query_scalar(crate::leaderboard::counts::COUNTED_MARK)
        .fetch_one(&mut *db)
        .await?;
    let max_vote_id: i64 = sqlx::query_scalar("select coalesce(max(id), 0) from vote")
        .fetch_one(&mut *db)
        .await?;
    // The date filters (validated when the spec was parsed), for both queries.
    let date = |d: &Option<String>| {
        d.as_deref()
            .and_then(|d| d.parse::<chrono::NaiveDate>().ok())
    };
    let (from, to) = (date(&spec.from), date(&spec.to));
    // An upper bound of the rows, for progress: the vote-level filters only, one index scan.
    let rows_at_most: i64 = sqlx::query_scalar(
        "select count(*) from vote v
         where (not $1 or v.counted) and ($2 or not v.voided)
           and ($3::date is null or (v.created_at at time zone 'utc')::date >= $3)
           and ($4::date is null or (v.created_at at time zone 'utc')::date <= $4)",
    )
    .bind(spec.counted_only)
    .bind(spec.include_voided)
    .bind(from)
    .bind(to)
    .fetch_one(&mut *db)
    .await?;
    let rows_at_most = u64::try_from(rows_at_most).unwrap_or(0);
    // The campaigns' slugs in this snapshot (the rows name their campaign by id), and the
    // filter's campaign (a run's slug may have been renamed since: then nothing matches).
    let campaigns: HashMap<uuid::Uuid, String> =
        sqlx::query_as::<_, (uuid::Uuid, String)>("select id, slug from campaign")
            .fetch_all(&mut *db)
            .await?
            .into_iter()
            .collect();
    let campaign_filter = spec.campaign.as_ref().map(|slug| {
        campaigns
            .iter()
            .find(|(_, s)| *s == slug)
            .map_or(uuid::Uuid::nil(), |(id, _)| *id)
    });
    if let Err(stop) = out.send(ExportEvent::Started { rows_at_most }).await {
        return Ok(Err(stop));
    }
    // The default leaderboard run that saw this same counted set (no filter, counted votes).
    let rating_run: Option<i64> = if spec.run.is_some() {
        spec.run
    } else if spec.counted_only
        && !spec.include_voided
        && spec.include_flagged
        && !spec.first_turn_only
        && spec.from.is_none()
        && spec.to.is_none()
        && spec.language.is_none()
        && spec.models.is_empty()
        && spec.campaign.is_none()
    {
        sqlx::query_scalar(
            "select id from rating_run where refresh and max_vote_id = $1
             order by id desc limit 1",
        )
        .bind(snapshot_mark)
        .fetch_optional(&mut *db)
        .await?
    } else {
        None
    };
    let mut hasher = Sha256::new();
    let mut rows = 0u64;
    let mut encoded = body::Body::new(spec.schema, spec.format)?;
    {
        let query = QUERY.replace(
            "{not_voided}",
            &crate::leaderboard::counts::not_voided_in("$9"),
        );
        let key = VoterKey::new(&salt);
        let mut stream = sqlx::query(sqlx::AssertSqlSafe(query))
            .bind(spec.counted_only)
            .bind(spec.include_voided)
            .bind(from)
            .bind(to)
            .bind(&spec.language)
            .bind(&spec.models)
            .bind(spec.first_turn_only)
            .bind(run_set.as_ref().map(|r| r.mark))
            .bind(run_set.as_ref().and_then(|r| r.snapshot.clone()))
            .bind(campaign_filter)
            .fetch(&mut *db);
        // The first record's column types are checked; the rest have the same.
        let mut types_checked = false;
        while let Some(pg) = stream.try_next().await? {
            let checked = !types_checked;
            if !spec.include_flagged && get::<bool>(&pg, 9, checked)? {
                continue;
            }
            let mut voter = [0u8; 32];
            let record = read_record(&pg, checked, &key, &campaigns, &mut voter)?;
            types_checked = true;
            let Some(row) = render::row(spec.schema, &record) else {
                continue;
            };
            rows += 1;
            if let Some(chunk) = encoded.push(row)? {
                hasher.update(&chunk);
                if let Err(stop) = out.send(ExportEvent::Chunk(chunk)).await {
                    // The client went away, or reads too slowly: stop reading.
                    return Ok(Err(stop));
                }
            }
        }
    }
    db.commit().await?;
    let last = encoded.finish()?;
    if !last.is_empty() {
        hasher.update(&last);
        if let Err(stop) = out.send(ExportEvent::Chunk(last)).await {
            return Ok(Err(stop));
        }
    }
    let manifest = Manifest {
        schema: spec.schema.as_str().to_owned(),
        schema_version: spec.schema.version(),
        format: spec.format.as_str().to_owned(),
        filters: spec,
        snapshot_mark,
        max_vote_id,
        rows,
        sha256: hex::encode(hasher.finalize()),
        rating_run,
    };
    Ok(Ok(manifest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voter_hashes_are_keyed_and_stable() {
        let id = uuid::Uuid::from_u128(42);
        let a = voter_hash(b"release-1", id);
        assert_eq!(a, voter_hash(b"release-1", id));
        assert_ne!(a, voter_hash(b"release-2", id));
        assert_eq!(a.len(), 32);
        assert!(!a.contains(&id.simple().to_string()));
        // RFC 4231, test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // RFC 4231, test case 6: a key longer than a block is hashed first.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
