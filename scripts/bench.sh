#!/usr/bin/env bash
# `make bench`: the arena's speed with the model's speed out of the picture, on the release build.
#   1. vote ingest over HTTP (wrk, 16 connections) against pgbench running the same statements
#      (8 clients) in the same run: votes/s, p50/p99, and the ratio;
#   2. time to first token through the arena against straight to the worker;
#   3. 1,000 concurrent streaming battles: the server's RSS idle, at peak and after;
#   4. research exports (JSONL, CSV, Parquet) and the import of the same file, against
#      `COPY … TO STDOUT` of the same rows, with the server's peak RSS growth;
#   5. the built-in CPU worker's and the rating engine's own benchmarks (skipped when quick).
# A scripted OpenAI-compatible worker (`arena-bench worker`) answers instead of a model.
# BENCH_PHASES="votes ttft streams sustained models" (default: all) picks phases.
# BENCH_QUICK=1: a short version on the debug build (seconds of load; CI runs it so the harness
# cannot rot). Figures come from full runs and are recorded in docs/scale.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/db.sh
quick=${BENCH_QUICK:-0}
phases=${BENCH_PHASES:-votes ttft streams sustained exports models}
want() { [[ " $phases " == *" $1 "* ]]; }
if [ "$quick" = 1 ]; then
  profile=debug prepare=200 clones=80 wrk_secs=3 ttft_samples=30 streams=100 stream_tokens=20
  sustained=300 export_battles=${BENCH_EXPORT_BATTLES:-2000} phases=${BENCH_PHASES:-votes ttft streams sustained exports}
else
  profile=release prepare=2000 clones=60 wrk_secs=20 ttft_samples=300 streams=1000 stream_tokens=100
  sustained=10000 export_battles=${BENCH_EXPORT_BATTLES:-1000000}
fi
command -v wrk >/dev/null || {
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -q --no-install-recommends wrk >/dev/null
}
ensure_database
ulimit -n "$(ulimit -Hn)"
# ARENA_PREBUILT=1: use the binaries already in target/ (make test's, built by cargo test).
if [ "${ARENA_PREBUILT:-0}" = 1 ]; then
  :
elif [ "$profile" = release ]; then
  cargo build --release -p server -p arena-bench
else
  cargo build -p server -p arena-bench
fi
bin="target/$profile"
out=target/bench
mkdir -p "$out"
base_url="${DATABASE_URL%/*}"
# Databases of this run only (two runs on one Postgres must not drop each other's).
votes_db="arena_bench_$$"
exports_db="arena_bench_exports_$$"
streams_db="arena_bench_streams_$$"

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_or_kill "${pids[@]}"
  stop_private_database
}
trap cleanup INT TERM EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {
  for _ in $(seq 1 240); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "$1 never answered" >&2; exit 1
}
fresh_db() { psql "$DATABASE_URL" -qc "drop database if exists $1 with (force)" -c "create database $1" >/dev/null; }

# start_worker PORT ARGS... ; start_server NAME DB WORKER_PORT → sets $server_pid and $server_url
start_worker() {
  local port=$1; shift
  "$bin/arena-bench" worker --listen "127.0.0.1:$port" "$@" 2>>"$out/worker.log" &
  pids+=($!)
  wait_for "http://127.0.0.1:$port/health"
}
start_server() {
  local name=$1 db=$2 worker=$3 port
  port=$(free_port)
  cat > "$out/$name.toml" <<TOML
[limits]
enabled = false
max_generating_per_voter = 100000
max_generating_per_address = 100000
$(for m in a b; do cat <<MODEL
[[models]]
key = "scripted-$m"
display_name = "Scripted $m"
max_tokens = 512
endpoints = [{ base_url = "http://127.0.0.1:$worker", upstream_model = "scripted", max_concurrency = 5000 }]
MODEL
done)
TOML
  DATABASE_URL="$base_url/$db" ARENA_CONFIG="$out/$name.toml" RUST_LOG=warn \
    ARENA__SERVER__LISTEN="127.0.0.1:$port" ARENA__DATABASE__MAX_CONNECTIONS=20 \
    "$bin/server" > "$out/$name.log" 2>&1 &
  server_pid=$!
  pids+=($server_pid)
  server_url="http://127.0.0.1:$port"
  wait_for "$server_url/readyz"
}

echo "[bench] $profile build; quick=$quick; results also in $out/"
# --- 1. Vote ingest: the HTTP API against pgbench on the same statements ------------------------
fast_worker=$(free_port)
start_worker "$fast_worker" --tokens 8
fresh_db "$votes_db"
start_server votes "$votes_db" "$fast_worker"
votes_url=$server_url votes_pid=$server_pid
if want votes; then
"$bin/arena-bench" prepare --url "$server_url" --battles "$prepare" --out "$out/prepared.txt"
# More battles to vote on than the load can use: clones of the prepared ones (same voters,
# models and answers), half for the HTTP load, half for pgbench.
psql "$base_url/$votes_db" -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
create table bench_prepared (battle_id uuid, token text);
\copy bench_prepared from '$out/prepared.txt' with (delimiter ' ')
create table bench_map as
  select p.battle_id as old_id, p.token, gen_random_uuid() as battle_id, t.id as old_turn,
         gen_random_uuid() as turn_id, row_number() over () as n
  from generate_series(1, $clones) k, bench_prepared p
  join battle_turn t on t.battle_id = p.battle_id;
insert into battle (id, voter_id, model_a_id, model_b_id, language, anonymous)
  select m.battle_id, b.voter_id, b.model_a_id, b.model_b_id, b.language, b.anonymous
  from bench_map m join battle b on b.id = m.old_id;
insert into battle_turn (id, battle_id, turn_index, prompt, status)
  select m.turn_id, m.battle_id, t.turn_index, t.prompt, t.status
  from bench_map m join battle_turn t on t.id = m.old_turn;
insert into answer (id, turn_id, side, attempt, model_id, status, content)
  select gen_random_uuid(), m.turn_id, a.side, a.attempt, a.model_id, a.status, a.content
  from bench_map m join answer a on a.turn_id = m.old_turn;
\copy (select battle_id || ' ' || token from bench_map where n % 2 = 0) to '$out/battles.txt'
create table bench_target as
  select row_number() over () as n, m.battle_id, b.voter_id, m.turn_id, b.model_a_id,
         b.model_b_id, encode(v.session_hash, 'hex') as session_hash
  from bench_map m join battle b on b.id = m.old_id join voter v on v.id = b.voter_id
  where m.n % 2 = 1;
create unique index on bench_target (n);
create sequence bench_seq;
vacuum analyze;
SQL
wrk_out=$(wrk -t 2 -c 16 -d "${wrk_secs}s" --timeout 10s -s scripts/bench/votes.lua \
  "$server_url" -- "$out/battles.txt" 2 | tee "$out/wrk.txt" | grep '^WRK')
prepared=$(wc -l < "$out/battles.txt")
pg_out=$("$(pg_bin)/pgbench" -n -M prepared -c 8 -j 2 -t $((prepared * 9 / 80)) -f scripts/bench/vote.sql \
  "$base_url/$votes_db" 2>&1 | tee "$out/pgbench.txt")
acked=$(psql "$base_url/$votes_db" -Atc "select count(*) from vote where idempotency_key like 'bench-%'")
counts_ok=$(psql "$base_url/$votes_db" -Atc "select (select count(*) from vote where counted and not voided)
  = (select coalesce(sum(wins_a + wins_b + ties + both_bad), 0) from pair_count)")
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$wrk_out"; }
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$pg_out" | head -n 1)
pg_lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$pg_out")
{
  echo
  echo "### Vote ingest ($wrk_secs s each)"
  echo
  echo "| path | votes/s | p50 ms | p99 ms | failed |"
  echo "|---|---:|---:|---:|---:|"
  echo "| HTTP API (wrk, 16 connections) | $(field rps) | $(field p50_ms) | $(field p99_ms) | $(field failed) |"
  echo "| pgbench, same statements (8 clients) | $tps | avg $pg_lat | | |"
  echo
  python3 -c "print(f'**ratio to pgbench: {$(field rps) / $tps:.0%}**')"
  echo
  echo "votes stored by the HTTP load: $acked; counts equal to the counted votes: $counts_ok"
} | tee "$out/votes.md"
[ "$counts_ok" = t ] || { echo "[bench] the counts differ from the votes" >&2; exit 1; }
[ "$(field failed)" = 0 ] || { echo "[bench] some votes failed; see $out/votes.log" >&2; exit 1; }
[ "$(field requests)" -lt "$prepared" ] ||
  { echo "[bench] the load used up its battles: prepare more (clones=)" >&2; exit 1; }
fi

# --- 2. Time to first token -----------------------------------------------------------------------
if want ttft; then
  "$bin/arena-bench" ttft --arena "$votes_url" --worker "http://127.0.0.1:$fast_worker" \
    --samples "$ttft_samples" | tee "$out/ttft.md"
fi

# --- 3. Many concurrent streaming battles, then a long run of battles -------------------------------
settle=$([ "$quick" = 1 ] && echo 2 || echo 10)
if want streams; then
  slow_worker=$(free_port)
  start_worker "$slow_worker" --tokens "$stream_tokens" --token-delay-ms 30
  fresh_db "$streams_db"
  start_server streams "$streams_db" "$slow_worker"
  "$bin/arena-bench" streams --url "$server_url" --battles "$streams" --concurrency "$streams" \
    --pid "$server_pid" --settle-secs "$settle" | tee "$out/streams.md"
fi
if want sustained; then
  "$bin/arena-bench" streams --url "$votes_url" --battles "$sustained" --concurrency 16 \
    --pid "$votes_pid" --settle-secs "$settle" | tee "$out/sustained.md"
fi

if want exports; then
  # --- 4. Research exports and imports against COPY --------------------------------------------
  fresh_db "$exports_db"
  ARENA__EXPORTS__VOTER_SALT=bench start_server exports "$exports_db" "$fast_worker"
  exports_pid=$server_pid exports_url=$server_url
  "$bin/arena-bench" seed --database "$base_url/$exports_db" --battles "$export_battles"
  # The rows an export writes: one per vote (the seed leaves out pairs of a model with itself).
  export_votes=$(psql "$base_url/$exports_db" -tAc "select count(*) from vote")
  echo "bench admin password" | DATABASE_URL="$base_url/$exports_db" ARENA_CONFIG="$out/exports.toml" \
    "$bin/server" admin create --username bench-admin >/dev/null
  jar="$out/exports.cookies"
  curl -fsS -c "$jar" -H "Origin: $exports_url" -H 'Content-Type: application/json' \
    -d '{"username":"bench-admin","password":"bench admin password"}' \
    "$exports_url/api/v1/account/signin" >/dev/null
  now() { date +%s.%N; }
  calc() { python3 -c "print($1)"; }
  kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
  # The same rows (votes with their prompts and both answers), as plainly as Postgres writes them.
  t0=$(now)
  psql "$base_url/$exports_db" -qc "copy (
      select v.id, v.battle_id, v.winner, v.counted, v.voided, v.created_at, b.language,
             ma.key, mb.key, t.prompt, aa.content, ab.content, aa.token_count, ab.token_count
      from vote v join battle b on b.id = v.battle_id join battle_turn t on t.id = v.turn_id
      join model ma on ma.id = b.model_a_id join model mb on mb.id = b.model_b_id
      join answer aa on aa.turn_id = t.id and aa.side = 'a' and not aa.discarded
      join answer ab on ab.turn_id = t.id and ab.side = 'b' and not ab.discarded
      order by v.id) to stdout" > "$out/copy.tsv"
  copy_s=$(calc "$(now) - $t0")
  copy_mib=$(( $(stat -c %s "$out/copy.tsv") / 1048576 ))
  # The floor: the export's own pre-joined rows (export_turn), in vote order, with nothing else.
  t0=$(now)
  psql "$base_url/$exports_db" -qc "copy (select * from export_turn order by vote_id) to stdout" \
    > "$out/copy.tsv"
  floor_s=$(calc "$(now) - $t0")
  floor_mib=$(( $(stat -c %s "$out/copy.tsv") / 1048576 ))
  {
    echo "| $export_battles battles, $export_votes votes | seconds | × COPY TO | MiB | server peak RSS growth (MiB) |"
    echo "|---|---|---|---|---|"
    printf '| COPY … TO STDOUT (psql) | %.1f | 1.00 | %s | — |\n' "$copy_s" "$copy_mib"
    printf '| COPY of export_turn alone (psql) | %.1f | %.2f | %s | — |\n' "$floor_s" \
      "$(calc "$floor_s / $copy_s")" "$floor_mib"
    for format in jsonl csv parquet; do
      rss_before=$(kib "$exports_pid" VmRSS)
      t0=$(now)
      code=$(curl -sS -b "$jar" -o "$out/export.$format" -w '%{http_code}' \
        "$exports_url/api/v1/exports/battles?schema=full&format=$format")
      secs=$(calc "$(now) - $t0")
      if [ "$code" != 200 ]; then
        echo "| export, full schema, $format | refused ($code): $(head -c 200 "$out/export.$format") | | | |"
        continue
      fi
      peak=$(kib "$exports_pid" VmHWM)
      growth=$(( (peak - rss_before) / 1024 ))
      [ "$growth" -ge 0 ] || growth=0
      printf '| export, full schema, %s (HTTP) | %.1f | %.2f | %s | %s |\n' "$format" "$secs" \
        "$(calc "$secs / $copy_s")" "$(( $(stat -c %s "$out/export.$format") / 1048576 ))" "$growth"
    done
    t0=$(now)
    DATABASE_URL="$base_url/$exports_db" ARENA_CONFIG="$out/exports.toml" \
      "$bin/server" import --schema full --source bench-import "$out/export.jsonl" \
      > "$out/import.json" 2> "$out/import.log"
    secs=$(calc "$(now) - $t0")
    printf '| import of the JSONL export (server import) | %.1f | %.2f | %s | — |\n' "$secs" \
      "$(calc "$secs / $copy_s")" "$(( $(stat -c %s "$out/export.jsonl") / 1048576 ))"
  } | tee "$out/exports.md"
  rows=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows_added"])' "$out/import.json")
  [ "$rows" -gt 0 ] || { echo "[bench] the import added nothing; see $out/import.log" >&2; exit 1; }
  rm -f "$out"/export.* "$out/copy.tsv"
fi

if want models; then
  # --- 5. The built-in worker and the rating engine -------------------------------------------
  bash scripts/fetch-model.sh
  cargo run --release -p arena-worker --bin worker-bench
  cargo run --release -p arena-ratings --bin arena-ratings -- bench
fi
for db in "$votes_db" "$streams_db" "$exports_db"; do
  psql "$DATABASE_URL" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
done
echo "[bench] done"
