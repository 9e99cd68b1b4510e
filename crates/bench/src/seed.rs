//! `arena-bench seed`: many voted battles straight into a migrated arena database (for the export
//! and import benchmark of `make bench`): `--models` models, `--battles` one-turn battles with
//! both answers (style features set), a counted vote each (all four outcomes), and the counts
//! the leaderboard reads, consistent with the votes. Inserted in slices of 100,000 battles, each
//! slice one statement per table.

use crate::client::Error;
use clap::Args;
use std::time::Instant;

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// The database (already migrated: start the server on it once).
    #[arg(long, env = "DATABASE_URL")]
    pub database: String,
    /// Battles to create.
    #[arg(long)]
    pub battles: u64,
    /// Models to spread them over.
    #[arg(long, default_value_t = 20)]
    pub models: u32,
}

const SLICE: u64 = 100_000;

pub async fn run(args: SeedArgs) -> Result<(), Error> {
    let started = Instant::now();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&args.database)
        .await
        .map_err(|e| Error::from(format!("cannot connect: {e}")))?;
    let sql = |e: sqlx::Error| Error::from(format!("seed: {e}"));
    sqlx::query(
        "insert into model (id, key, display_name, organization, license, active)
         select gen_random_uuid(), 'seed-model-' || lpad(i::text, 3, '0'), 'Seed model ' || i,
                'Bench', 'MIT', true
         from generate_series(1, $1) i
         on conflict (key) do nothing",
    )
    .bind(args.models as i32)
    .execute(&pool)
    .await
    .map_err(sql)?;
    sqlx::query(
        "insert into voter (id, session_hash, terms_version, terms_accepted_at)
         select gen_random_uuid(), sha256(('seed-voter-' || i)::bytea), '2026-12-01', now()
         from generate_series(1, 1000) i
         on conflict (session_hash) do nothing",
    )
    .execute(&pool)
    .await
    .map_err(sql)?;
    let mut done = 0;
    while done < args.battles {
        let n = SLICE.min(args.battles - done);
        let mut tx = pool.begin().await.map_err(sql)?;
        sqlx::query(
            "create temp table seed on commit drop as
             with m as (select array_agg(id order by key) ids from model
                        where key like 'seed-model-%'),
                  v as (select array_agg(id order by id) ids from voter)
             select gen_random_uuid() as battle, gen_random_uuid() as turn,
                    v.ids[1 + (i % array_length(v.ids, 1))] as voter,
                    m.ids[1 + (i % array_length(m.ids, 1))] as a,
                    m.ids[1 + ((i * 7 + 1 + i / array_length(m.ids, 1))
                               % array_length(m.ids, 1))] as b,
                    (array['model_a', 'model_b', 'tie', 'both_bad'])[1 + (i * 13 % 4)] as winner,
                    (array['en', 'eu', 'es'])[1 + (i % 3)] as language,
                    now() - make_interval(secs => (i % 8640000)::double precision) as at,
                    i
             from generate_series($1::bigint, $1::bigint + $2::bigint - 1) i, m, v",
        )
        .bind(done as i64)
        .bind(n as i64)
        .execute(&mut *tx)
        .await
        .map_err(sql)?;
        // A model never battles itself.
        sqlx::query("delete from seed where a = b")
            .execute(&mut *tx)
            .await
            .map_err(sql)?;
        for statement in [
            "insert into battle (id, voter_id, model_a_id, model_b_id, language, created_at)
             select battle, voter, a, b, language, at from seed",
            "insert into battle_turn (id, battle_id, turn_index, prompt, status, created_at)
             select turn, battle, 0,
                    'Seeded question number ' || i || ': how do I explain rating intervals to '
                    || 'a volunteer who has never seen one?', 'voted', at from seed",
            "insert into answer (id, turn_id, side, model_id, status, content, token_count,
                                 header_count, list_count, bold_count, prompt_tokens)
             select gen_random_uuid(), turn, s.side, case s.side when 'a' then a else b end,
                    'done',
                    'A seeded answer from side ' || s.side || ' to question ' || i || '. '
                    || repeat('An interval says how sure the arena is of a rating. ', 4),
                    60 + i % 40, i % 3, i % 5, i % 2, 30
             from seed, (values ('a'), ('b')) s (side)",
            "insert into vote (turn_id, battle_id, voter_id, winner, counted, created_at, txid)
             select turn, battle, voter, winner, true, at, pg_current_xact_id() from seed",
            "insert into pair_count (model_a_id, model_b_id, language, day, wins_a, wins_b, ties,
                                     both_bad, shard)
             select a, b, language, (at at time zone 'utc')::date,
                    count(*) filter (where winner = 'model_a'),
                    count(*) filter (where winner = 'model_b'),
                    count(*) filter (where winner = 'tie'),
                    count(*) filter (where winner = 'both_bad'), 0
             from seed group by 1, 2, 3, 4
             on conflict (model_a_id, model_b_id, language, day, shard) do update set
                 wins_a = pair_count.wins_a + excluded.wins_a,
                 wins_b = pair_count.wins_b + excluded.wins_b,
                 ties = pair_count.ties + excluded.ties,
                 both_bad = pair_count.both_bad + excluded.both_bad",
        ] {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(sql)?;
        }
        tx.commit().await.map_err(sql)?;
        done += n;
        eprint!(
            "\r[seed] {done:>9} of {} battles in {:>6.1} s",
            args.battles,
            started.elapsed().as_secs_f64()
        );
    }
    sqlx::query("analyze").execute(&pool).await.map_err(sql)?;
    eprintln!();
    Ok(())
}
