#!/usr/bin/env bash
# Fills a database with an arena-scale vote set, for benchmarks: MODELS models (default 129,
# Chatbot Arena's count) and VOTES counted votes (default 1,670,000), each a whole battle (battle,
# turn, two answers, vote) with the pair counts to match, spread over the last 400 days, true
# strengths drawn from a normal distribution and outcomes from Bradley–Terry with ties.
# Usage: DATABASE_URL=postgres://…/db scripts/seed-scale.sh [VOTES] [MODELS]
# The database must have been migrated (start the server on it once). Takes minutes.
set -euo pipefail
votes=${1:-1670000}
models=${2:-129}
: "${DATABASE_URL:?set DATABASE_URL to the database to fill}"
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q <<SQL
\timing on
begin;
select setseed(0.42);
insert into model (id, key, display_name, organization, license, weight)
select gen_random_uuid(), 'scale-' || lpad(i::text, 3, '0'), 'Scale model ' || i, 'Bench', 'n/a', 1
from generate_series(1, $models) i
on conflict (key) do nothing;
create temp table strength as
select id, row_number() over (order by key) as n,
       sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) as theta
from model where key like 'scale-%';
insert into voter (id, session_hash) values ('00000000-0000-0000-0000-00000000beef', '\\x00')
on conflict do nothing;
create temp table draw as
select g as i,
       1 + floor(random() * $models)::int as a,
       1 + floor(random() * ($models - 1))::int as b0,
       random() as u,
       now() - random() * interval '400 days' as at
from generate_series(1, $votes) g;
create temp table planned as
select d.i, sa.id as model_a, sb.id as model_b, d.at,
       case when d.u < 0.2 then 'tie'
            when d.u < 0.25 then 'both_bad'
            when (d.u - 0.25) / 0.75 < 1 / (1 + exp(sb.theta - sa.theta)) then 'model_a'
            else 'model_b' end as winner,
       gen_random_uuid() as battle, gen_random_uuid() as turn
from draw d
join strength sa on sa.n = d.a
join strength sb on sb.n = case when d.b0 >= d.a then d.b0 + 1 else d.b0 end;
insert into battle (id, voter_id, model_a_id, model_b_id, language, created_at, updated_at)
select battle, '00000000-0000-0000-0000-00000000beef', model_a, model_b, 'en', at, at from planned;
insert into battle_turn (id, battle_id, turn_index, prompt, status, created_at, updated_at)
select turn, battle, 0, 'benchmark prompt ' || i, 'voted', at, at from planned;
insert into answer (id, turn_id, side, model_id, status, content, finish_reason, completion_tokens)
select gen_random_uuid(), turn, s.side, case s.side when 'a' then model_a else model_b end,
       'done', 'benchmark answer', 'stop', 2
from planned cross join (values ('a'), ('b')) s(side);
insert into vote (turn_id, battle_id, voter_id, winner, counted, created_at, txid)
select turn, battle, '00000000-0000-0000-0000-00000000beef', winner, true, at, pg_current_xact_id()
from planned order by at;
insert into pair_count (model_a_id, model_b_id, language, day, shard, wins_a, wins_b, ties, both_bad)
select model_a, model_b, 'en', (at at time zone 'utc')::date, 0,
       count(*) filter (where winner = 'model_a'), count(*) filter (where winner = 'model_b'),
       count(*) filter (where winner = 'tie'), count(*) filter (where winner = 'both_bad')
from planned group by 1, 2, 3, 4
on conflict (model_a_id, model_b_id, language, day, shard) do update set
    wins_a = pair_count.wins_a + excluded.wins_a, wins_b = pair_count.wins_b + excluded.wins_b,
    ties = pair_count.ties + excluded.ties, both_bad = pair_count.both_bad + excluded.both_bad;
commit;
analyze;
select count(*) as votes, (select count(*) from pair_count) as count_rows from vote;
SQL
