#!/usr/bin/env bash
# `make chaos`: two server processes on one private Postgres cluster, under a steady vote load
# (`arena-bench chaos`: volunteers create, read and vote through whichever process answers):
#   - `kill -9` a server process at random moments, 10 times (the other keeps serving; the
#     killed one is restarted);
#   - restart Postgres 5 times, in fast and immediate (crash) modes;
#   - all the while, every model has a second worker that misbehaves: one hangs, one resets
#     mid-stream, one sends garbage, one is slow, one floods 50 MB for max_tokens = 64;
#   - and 20 research downloads read at 2 KiB/s (the export caps refuse most; the admitted ones
#     are cut by the reader floor), beside the vote load.
# Each kill waits until its process is generating an answer (a real process killed
# mid-generation; the survivor must fail those turns). The volunteers ask distinct questions,
# read for a moment before voting, and vote as a Bradley–Terry truth over the models says, so
# no honest volunteer should be quarantined and nearly every vote should count.
# Then the audit: acknowledged votes, votes found, lost, duplicated, counted, capped, voided,
# quarantined voters, counts against votes, and recovery times. Goal: 0 lost, 0 duplicated,
# counts equal to the votes, ≥ 90 % of acknowledged votes counted, no voter quarantined (the
# script fails otherwise). CHAOS_QUICK=1: a short version on the debug build (CI runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/db.sh
quick=${CHAOS_QUICK:-0}
if [ "$quick" = 1 ]; then
  profile=debug kills=3 restarts=2 pause=2
else
  profile=release kills=10 restarts=5 pause=5
fi
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
out=target/chaos
mkdir -p "$out"
: > "$out/events.md"

pids=()
pg_dir="$PWD/$out/pg"
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}" ${server_pid[@]:-}; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  as_pg_user "$(pg_bin)/pg_ctl" -D "$pg_dir" -m immediate stop >/dev/null 2>&1 || true
}
trap cleanup INT TERM EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
# wait_ready URL...: until every URL answers 200 (at most 60 s)
wait_ready() {
  local deadline=$(( $(now_ms) + 60000 )) url
  for url in "$@"; do
    until curl -fsS -m 1 "$url/readyz" >/dev/null 2>&1; do
      [ "$(now_ms)" -lt "$deadline" ] || { echo "[chaos] $url never became ready" >&2; return 1; }
      sleep 0.05
    done
  done
}

# --- A private cluster, so that it can be restarted and crashed -----------------------------------
rm -rf "$pg_dir"
mkdir -p "$pg_dir"
[ "$(id -u)" -ne 0 ] || { id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres; chown postgres "$pg_dir"; }
as_pg_user "$(pg_bin)/initdb" -D "$pg_dir" -A trust -U postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null
pg_port=$(free_port)
pg_opts="-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=200"
as_pg_user "$(pg_bin)/pg_ctl" -D "$pg_dir" -l "$pg_dir/postgres.log" -w -o "$pg_opts" start >/dev/null
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/arena"
psql "postgres://postgres@127.0.0.1:$pg_port/postgres" -qc "create database arena" >/dev/null

# --- Workers: one good, four bad -------------------------------------------------------------------
declare -A worker
for mode in normal hang reset garbage slow flood; do
  worker[$mode]=$(free_port)
  "$bin/arena-bench" worker --listen "127.0.0.1:${worker[$mode]}" --mode "$mode" \
    --tokens 12 --token-delay-ms 5 2>>"$out/workers.log" &
  pids+=($!)
done
{
  cat <<TOML
[gateway]
first_token_timeout_secs = 5
idle_timeout_secs = 5
health_interval_secs = 1
[arena]
instance_heartbeat_ms = 500
instance_lease_ms = 3000
[limits]
enabled = false
max_generating_per_voter = 100000
max_generating_per_address = 100000
[exports]
voter_salt = "chaos"
min_rate_window_secs = 5
TOML
  for mode in hang reset garbage slow flood; do
    cat <<TOML
[[models]]
key = "model-with-a-$mode-replica"
display_name = "Model with a $mode replica"
max_tokens = 64
endpoints = [
  { base_url = "http://127.0.0.1:${worker[normal]}", upstream_model = "scripted", max_concurrency = 500 },
  { base_url = "http://127.0.0.1:${worker[$mode]}", upstream_model = "scripted", max_concurrency = 500 },
]
TOML
  done
} > "$out/config.toml"

# --- Two server processes ------------------------------------------------------------------------
declare -a server_port server_pid server_instance
start_server() {
  local i=$1
  ARENA_CONFIG="$out/config.toml" RUST_LOG=warn ARENA__SERVER__LISTEN="127.0.0.1:${server_port[$i]}" \
    "$bin/server" >> "$out/server-$i.log" 2>&1 &
  server_pid[$i]=$!
}
# The process's instance id (its turns' owner): the newest registered once it is ready (the
# processes start one at a time).
note_instance() {
  server_instance[$1]=$(psql "$DATABASE_URL" -Atc "select id from server_instance order by started_at desc limit 1")
}
for i in 0 1; do
  server_port[$i]=$(free_port)
  start_server "$i"
  wait_ready "http://127.0.0.1:${server_port[$i]}"
  note_instance "$i"
done
urls="http://127.0.0.1:${server_port[0]},http://127.0.0.1:${server_port[1]}"

# --- The load, and the blows ---------------------------------------------------------------------
seconds=$(( (kills + restarts) * (pause + 3) + 10 ))
echo "[chaos] $profile build: $kills kills, $restarts Postgres restarts, ${seconds} s of votes"
"$bin/arena-bench" chaos --urls "$urls" --seconds "$seconds" --voters 16 > "$out/audit.md" 2>&1 &
load=$!
# 20 slow research downloads beside the votes (an admin may export): at 2 KiB/s each.
echo "chaos admin password" | ARENA_CONFIG="$out/config.toml" "$bin/server" admin create --username chaos-admin >/dev/null
curl -fsS -c "$out/cookies" -H 'content-type: application/json' \
  -d '{"username":"chaos-admin","password":"chaos admin password"}' \
  "http://127.0.0.1:${server_port[0]}/api/v1/account/signin" >/dev/null
: > "$out/exports.log"
for n in $(seq 1 20); do
  curl -sS -b "$out/cookies" --limit-rate 2k -o /dev/null -w '%{http_code}\n' \
    "http://127.0.0.1:${server_port[$((n % 2))]}/api/v1/exports/battles?schema=full" \
    >> "$out/exports.log" 2>/dev/null &
  pids+=($!)
done
events=()
for n in $(seq 1 "$kills"); do
  sleep "$(( RANDOM % pause + 1 )).$(( RANDOM % 10 ))"
  i=$(( RANDOM % 2 ))
  # Mid-generation: wait (at most 5 s) until the process is generating an answer.
  inflight=0
  for _ in $(seq 1 100); do
    inflight=$(psql "$DATABASE_URL" -Atc "select count(*) from battle_turn
      where status = 'generating' and owner = '${server_instance[$i]}'" 2>/dev/null || echo 0)
    [ "${inflight:-0}" -gt 0 ] && break
    sleep 0.05
  done
  kill -9 "${server_pid[$i]}"
  wait "${server_pid[$i]}" 2>/dev/null || true
  t0=$(now_ms)
  start_server "$i"
  wait_ready "http://127.0.0.1:${server_port[$i]}"
  note_instance "$i"
  killed_midway=$(( ${killed_midway:-0} + (inflight > 0 ? 1 : 0) ))
  events+=("| kill -9 server $i ($n), $inflight turns generating | $(( $(now_ms) - t0 )) ms until it serves again |")
done
for n in $(seq 1 "$restarts"); do
  sleep "$(( RANDOM % pause + 1 )).$(( RANDOM % 10 ))"
  mode=$([ $((n % 2)) = 1 ] && echo immediate || echo fast)
  t0=$(now_ms)
  as_pg_user "$(pg_bin)/pg_ctl" -D "$pg_dir" -l "$pg_dir/postgres.log" -w -m "$mode" -o "$pg_opts" restart >/dev/null
  wait_ready "http://127.0.0.1:${server_port[0]}" "http://127.0.0.1:${server_port[1]}"
  events+=("| Postgres restart, $mode mode ($n) | $(( $(now_ms) - t0 )) ms until both servers are ready |")
done
status=0
wait "$load" || status=$?
if [ "${killed_midway:-0}" -lt 1 ]; then
  echo "[chaos] no kill landed while its process was generating" >&2
  status=1
fi
# The killed processes' generations were failed by the survivor (none left generating).
orphans=$(psql "$DATABASE_URL" -Atc "select count(*) from battle_turn t
  where t.status = 'generating' and not exists (
    select 1 from server_instance s where s.id = t.owner and s.heartbeat_at > now() - interval '10 seconds')")
events+=("| turns of killed processes left generating | $orphans |")
if [ "$orphans" -gt 0 ]; then
  echo "[chaos] $orphans turns of killed processes were never failed" >&2
  status=1
fi
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
exports_refused=$(grep -c '^429' "$out/exports.log" || true)
exports_admitted=$(grep -c '^200' "$out/exports.log" || true)
events+=("| 20 downloads at 2 KiB/s | $exports_admitted admitted (cut or still reading), $exports_refused refused with 429 |")
flood_bytes=$(psql "$DATABASE_URL" -Atc "select coalesce(max(octet_length(content)), 0) from answer")
events+=("| a worker flooding 50 MB | longest stored answer $flood_bytes bytes |")
if [ "$flood_bytes" -gt 65536 ]; then
  echo "[chaos] an answer of $flood_bytes bytes was stored (bound: 65536)" >&2
  status=1
fi
{
  echo "### Blows"
  echo
  echo "| what | recovery |"
  echo "|---|---:|"
  printf '%s\n' "${events[@]}"
  cat "$out/audit.md"
} | tee "$out/report.md"
[ "$status" = 0 ] || { echo "[chaos] FAILED (logs in $out/)" >&2; exit "$status"; }
echo "[chaos] done (logs in $out/)"
