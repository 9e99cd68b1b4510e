//! The counted vote set and its aggregate, `pair_count`: every SQL statement that changes which
//! votes count lives here or in the vote itself ([`crate::battles`] adds a vote's counts in its
//! transaction). Voiding and unvoiding change the counts in the same transaction as the vote's
//! mark, and record an event that rating runs' snapshots see, so every run stays reproducible.

use crate::Arena;
use crate::error::ArenaResult;
use sqlx::PgConnection;
use std::collections::HashMap;
use uuid::Uuid;

/// The high-water mark of the counted vote set: the newest counted vote or void/unvoid event
/// (both take numbers from the votes' sequence). A stored run is current while it is equal.
pub(crate) const COUNTED_MARK: &str =
    "select greatest((select coalesce(max(id), 0) from vote where counted),
                     (select coalesce(max(change_id), 0) from vote_void))";

/// The SQL condition "a transaction in progress at `snapshot` (a `pg_snapshot` as text; none
/// when null) has since committed a counted vote or a void event": those took numbers below a
/// run's mark while invisible to it, so an equal mark does not prove that run current.
pub(crate) fn missed_in_flight(snapshot: &str) -> String {
    format!(
        "(exists (select 1 from vote v
                  where v.counted
                    and v.txid in (select pg_snapshot_xip({snapshot}::pg_snapshot)))
          or exists (select 1 from vote_void e
                     where e.txid in (select pg_snapshot_xip({snapshot}::pg_snapshot))))"
    )
}

/// The SQL condition "vote `v` is not voided as of snapshot `$snapshot`" (or now, when null).
pub(crate) fn not_voided_in(snapshot: &str) -> String {
    format!(
        "not coalesce((select e.voided from vote_void e
                       where e.vote_id = v.id
                         and ({snapshot}::text is null
                              or pg_visible_in_snapshot(e.txid, {snapshot}::pg_snapshot))
                       order by e.id desc limit 1), false)"
    )
}

/// Voids (`voided`) or restores the given votes; votes already in that state are left alone.
/// Counted votes leave (or re-enter) `pair_count` in the same statement. Returns how many
/// votes changed.
pub(crate) async fn set_voided(
    conn: &mut PgConnection,
    vote_ids: &[i64],
    voided: bool,
    reason: &str,
    actor: Option<Uuid>,
) -> ArenaResult<i64> {
    let changed: i64 = sqlx::query_scalar(
        "with changed as (
             update vote v set voided = $2, void_reason = case when $2 then $3 end
             where v.id = any($1) and v.voided <> $2
             returning v.id, v.counted, v.winner, v.battle_id, v.created_at
         ), events as (
             insert into vote_void (vote_id, voided, reason, actor_id, change_id)
             select id, $2, $3, $4, nextval(pg_get_serial_sequence('vote', 'id'))
             from changed
         ), agg as (
             select b.model_a_id, b.model_b_id, coalesce(b.language, '') as language,
                    (c.created_at at time zone 'utc')::date as day,
                    count(*) filter (where c.winner = 'model_a') as wins_a,
                    count(*) filter (where c.winner = 'model_b') as wins_b,
                    count(*) filter (where c.winner = 'tie') as ties,
                    count(*) filter (where c.winner = 'both_bad') as both_bad
             from changed c join battle b on b.id = c.battle_id
             where c.counted
             group by 1, 2, 3, 4
         ), counts as (
             -- In key order: concurrent voids lock the count rows in the same order.
             insert into pair_count (model_a_id, model_b_id, language, day,
                                     wins_a, wins_b, ties, both_bad, shard)
             select model_a_id, model_b_id, language, day,
                    s * wins_a, s * wins_b, s * ties, s * both_bad, 0
             from agg, (select case when $2 then -1 else 1 end as s) sign
             order by 1, 2, 3, 4
             on conflict (model_a_id, model_b_id, language, day, shard) do update set
                 wins_a = pair_count.wins_a + excluded.wins_a,
                 wins_b = pair_count.wins_b + excluded.wins_b,
                 ties = pair_count.ties + excluded.ties,
                 both_bad = pair_count.both_bad + excluded.both_bad
         )
         select count(*) from changed",
    )
    .bind(vote_ids)
    .bind(voided)
    .bind(reason)
    .bind(actor)
    .fetch_one(conn)
    .await?;
    Ok(changed)
}

/// A counted vote just inserted (not yet in `pair_count`) is voided at once, with its event
/// (a held voter's vote: it never enters the counts, and a clear brings it in like any void).
pub(crate) async fn void_before_counting(
    conn: &mut PgConnection,
    vote_id: i64,
    reason: &str,
) -> ArenaResult<()> {
    sqlx::query(
        "with v as (update vote set voided = true, void_reason = $2 where id = $1 returning id)
         insert into vote_void (vote_id, voided, reason, actor_id, change_id)
         select id, true, $2, null, nextval(pg_get_serial_sequence('vote', 'id')) from v",
    )
    .bind(vote_id)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(())
}

impl Arena {
    /// Counted (and not voided) votes per model, from the aggregate.
    pub async fn counted_votes_per_model(&self) -> ArenaResult<HashMap<Uuid, i64>> {
        let rows: Vec<(Uuid, i64)> = sqlx::query_as(
            "select m, sum(n)::bigint from (
                 select model_a_id as m, wins_a + wins_b + ties + both_bad as n from pair_count
                 union all
                 select model_b_id, wins_a + wins_b + ties + both_bad from pair_count
             ) s group by m",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Counted votes per unordered pair of models (lower id first).
    pub async fn counted_votes_per_pair(&self) -> ArenaResult<HashMap<(Uuid, Uuid), i64>> {
        let rows: Vec<(Uuid, Uuid, i64)> = sqlx::query_as(
            "select least(model_a_id, model_b_id), greatest(model_a_id, model_b_id),
                    sum(wins_a + wins_b + ties + both_bad)::bigint
             from pair_count group by 1, 2",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(a, b, n)| ((a, b), n)).collect())
    }
}

/// Inserts the rows of the import's temporary table `import_rows` into `source`'s votes (a row
/// already there is left alone) and adds the new counted ones to the source's counts, in one
/// statement. Returns how many rows were new.
pub(crate) async fn add_imported(conn: &mut PgConnection, source: Uuid) -> ArenaResult<i64> {
    let added: i64 = sqlx::query_scalar(
        "with added as (
             insert into source_vote (source_id, row_key, model_a_id, model_b_id, winner,
                                      counted, language, voted_at, turn, payload)
             select $1, r.row_key, a.id, b.id, r.winner, r.counted, coalesce(r.language, ''),
                    r.voted_at, r.turn, r.payload
             from import_rows r
             join model a on a.key = r.model_a
             join model b on b.key = r.model_b
             on conflict (source_id, row_key) do nothing
             returning model_a_id, model_b_id, winner, counted, language, voted_at
         ), agg as (
             select model_a_id, model_b_id, language,
                    (voted_at at time zone 'utc')::date as day,
                    count(*) filter (where winner = 'model_a') as wins_a,
                    count(*) filter (where winner = 'model_b') as wins_b,
                    count(*) filter (where winner = 'tie') as ties,
                    count(*) filter (where winner = 'both_bad') as both_bad
             from added where counted
             group by 1, 2, 3, 4
         ), counts as (
             insert into source_pair_count (source_id, model_a_id, model_b_id, language, day,
                                            wins_a, wins_b, ties, both_bad)
             select $1, model_a_id, model_b_id, language, day, wins_a, wins_b, ties, both_bad
             from agg
             on conflict (source_id, model_a_id, model_b_id, language, day) do update set
                 wins_a = source_pair_count.wins_a + excluded.wins_a,
                 wins_b = source_pair_count.wins_b + excluded.wins_b,
                 ties = source_pair_count.ties + excluded.ties,
                 both_bad = source_pair_count.both_bad + excluded.both_bad
         )
         select count(*) from added",
    )
    .bind(source)
    .fetch_one(conn)
    .await?;
    Ok(added)
}

/// One cell of an imported source's counts: model a, model b, language, day (UTC; none for a
/// dataset without dates).
pub(crate) type ImportedCell = (Uuid, Uuid, String, Option<chrono::NaiveDate>);

/// Adds the counts of rows an import wrote straight into `source`'s votes (a source that had
/// none), as the import tallied them: wins of a, wins of b, ties and both-bad per cell.
pub(crate) async fn add_imported_counts(
    conn: &mut PgConnection,
    source: Uuid,
    counts: HashMap<ImportedCell, [i64; 4]>,
) -> ArenaResult<()> {
    let n = counts.len();
    let (mut a, mut b, mut language, mut day) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut wins: [Vec<i64>; 4] = Default::default();
    for ((ma, mb, lang, d), cell) in counts {
        a.push(ma);
        b.push(mb);
        language.push(lang);
        day.push(d);
        for (column, value) in wins.iter_mut().zip(cell) {
            column.push(value);
        }
    }
    sqlx::query(
        "insert into source_pair_count (source_id, model_a_id, model_b_id, language, day,
                                        wins_a, wins_b, ties, both_bad)
         select $1, a, b, language, day, wins_a, wins_b, ties, both_bad
         from unnest($2::uuid[], $3::uuid[], $4::text[], $5::date[], $6::int8[], $7::int8[],
                     $8::int8[], $9::int8[])
             as c (a, b, language, day, wins_a, wins_b, ties, both_bad)
         on conflict (source_id, model_a_id, model_b_id, language, day) do update set
             wins_a = source_pair_count.wins_a + excluded.wins_a,
             wins_b = source_pair_count.wins_b + excluded.wins_b,
             ties = source_pair_count.ties + excluded.ties,
             both_bad = source_pair_count.both_bad + excluded.both_bad",
    )
    .bind(source)
    .bind(&a)
    .bind(&b)
    .bind(&language)
    .bind(&day)
    .bind(&wins[0])
    .bind(&wins[1])
    .bind(&wins[2])
    .bind(&wins[3])
    .execute(conn)
    .await?;
    Ok(())
}
