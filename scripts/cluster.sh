#!/usr/bin/env bash
# `make cluster`: the arena as it runs beyond one machine, on one: Postgres, the built-in CPU
# worker, three server processes on one database, and HAProxy (deploy/haproxy/arena.cfg) in
# front at http://127.0.0.1:3000 (its stats at http://127.0.0.1:3099/stats; the processes'
# metrics at 127.0.0.1:9301-9303). Ctrl-C stops everything it started.
#
# CLUSTER_CHECK=1 (make test's short version), on the debug binaries cargo test built, with the
# models of CLUSTER_CONFIG (the browser test's, on its running worker) and a new database:
#   1. the Chromium battle test, through HAProxy;
#   2. a vote load through HAProxy (`arena-bench chaos`: volunteers who start, read and vote)
#      during a rolling restart: each process in turn gets SIGTERM (it drains: /readyz answers
#      503 until HAProxy's checks take it out), exits, is started again and is UP before the next;
#   3. the checks: no acknowledged vote lost, changed or duplicated (the load's audit), and no
#      request answered with a 5xx (HAProxy's own count); the drain and return times printed.
set -euo pipefail
cd "$(dirname "$0")/.."
check=${CLUSTER_CHECK:-0}
source scripts/db.sh
out=target/cluster
mkdir -p "$out"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

if [ "$check" = 1 ]; then
  bin=target/debug
  : "${CLUSTER_CONFIG:?CLUSTER_CONFIG names the models: make test passes the browser test config}"
  config=$CLUSTER_CONFIG
  lb_port=$(free_port) stats_port=$(free_port)
  ports=("$(free_port)" "$(free_port)" "$(free_port)")
  metrics=("" "" "")
else
  bash scripts/setup.sh
  export PATH="$PWD/end2end/node_modules/.bin:$PATH"
  echo "[cluster] building (release)"
  cargo build --release -p arena-worker
  bash scripts/build-site.sh --release
  bin=target/release
  lb_port=3000 stats_port=3099
  ports=(3001 3002 3003)
  metrics=(127.0.0.1:9301 127.0.0.1:9302 127.0.0.1:9303)
fi
ensure_database

pids=()
server_pid=("" "" "")
cleanup() {
  trap - INT TERM EXIT
  local all=("${pids[@]}" "${server_pid[@]}")
  for pid in "${all[@]}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  stop_or_kill "${all[@]}"
  [ "$check" = 1 ] || stop_private_database
}
trap cleanup INT TERM EXIT

if [ "$check" = 1 ]; then
  database="arena_e2e_cluster_$(date +%s)"
  psql "$DATABASE_URL" -qc "create database $database" >/dev/null
  export DATABASE_URL="${DATABASE_URL%/*}/$database"
else
  # The built-in worker, as `make run` starts it.
  worker_listen=${ARENA_WORKER_LISTEN:-127.0.0.1:8081}
  ARENA_WORKER_LISTEN=$worker_listen "$bin/arena-worker" > "$out/worker.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 120); do
    curl -fsS "http://$worker_listen/health" >/dev/null 2>&1 && break
    sleep 0.5
  done
  config=""
fi

# --- Three server processes on one database ----------------------------------------------------
# Their configuration: behind HAProxy on this host (its X-Forwarded-For and X-Request-ID are
# believed, its origin may write), draining 3 s on SIGTERM; then the models, if any.
{
  cat <<TOML
[server]
listen = "127.0.0.1:3001"
site_root = "target/site"
trusted_proxies = ["127.0.0.1"]
public_origins = ["http://127.0.0.1:$lb_port"]
drain_secs = 3
shutdown_grace_secs = 20
TOML
  # The check's few volunteers all come from this host and vote on one pair of models many
  # times: no per-address budget, no per-pair cap (make chaos has five models).
  [ "$check" != 1 ] || printf '[limits]\nenabled = false\n[rigging]\ncap_per_pair_per_day = 100000\n'
  [ -z "$config" ] || cat "$config"
} > "$out/cluster.toml"
start_server() {
  local i=$1
  env ARENA_CONFIG="$out/cluster.toml" ARENA__SERVER__LISTEN="127.0.0.1:${ports[$i]}" \
    ${metrics[$i]:+ARENA__SERVER__METRICS_LISTEN=${metrics[$i]}} \
    ARENA__EXPORTS__VOTER_SALT=${ARENA__EXPORTS__VOTER_SALT:-cluster} \
    "$bin/server" >> "$out/server-$i.log" 2>&1 &
  server_pid[$i]=$!
}
wait_ready() {
  local deadline=$(( $(now_ms) + 120000 ))
  until curl -fsS -m 1 "$1/readyz" >/dev/null 2>&1; do
    [ "$(now_ms)" -lt "$deadline" ] || { echo "[cluster] $1 never became ready" >&2; return 1; }
    sleep 0.1
  done
}
: > "$out/server-0.log"; : > "$out/server-1.log"; : > "$out/server-2.log"
for i in 0 1 2; do
  start_server "$i"
  # One at a time: the first runs the migrations.
  wait_ready "http://127.0.0.1:${ports[$i]}"
done

# --- HAProxy -------------------------------------------------------------------------------------
mkdir -p "$out/lb"
ARENA_LB_STATE="$PWD/$out/lb" ARENA_LB_BIND="127.0.0.1:$lb_port" ARENA_LB_STATS="127.0.0.1:$stats_port" \
  ARENA_SERVER_1="127.0.0.1:${ports[0]}" ARENA_SERVER_2="127.0.0.1:${ports[1]}" \
  ARENA_SERVER_3="127.0.0.1:${ports[2]}" \
  "$(command -v haproxy || echo /usr/sbin/haproxy)" -db -f deploy/haproxy/arena.cfg > "$out/haproxy.log" 2>&1 &
pids+=($!)
lb="http://127.0.0.1:$lb_port"
stats="http://127.0.0.1:$stats_port/stats;csv"
# stat PROXY SERVER FIELD: one field of HAProxy's statistics.
stat() {
  curl -fsS "$stats" | python3 -c '
import csv, sys
proxy, server, field = sys.argv[1:4]
rows = csv.reader(line.lstrip("# ") for line in sys.stdin)
head = next(rows)
for row in rows:
    if len(row) > 1 and row[0] == proxy and row[1] == server:
        print(row[head.index(field)])
' "$1" "$2" "$3"
}
wait_up() {
  local deadline=$(( $(now_ms) + 60000 ))
  until [ "$(stat arena_servers "$1" status 2>/dev/null)" = UP ]; do
    [ "$(now_ms)" -lt "$deadline" ] || { echo "[cluster] HAProxy never saw $1 UP" >&2; return 1; }
    sleep 0.1
  done
}
for name in arena1 arena2 arena3; do wait_up "$name"; done
wait_ready "$lb"

if [ "$check" != 1 ]; then
  echo "[cluster] the arena: $lb (three processes behind HAProxy; stats: http://127.0.0.1:$stats_port/stats)"
  echo "[cluster] metrics: ${metrics[*]}; logs in $out/  (Ctrl-C stops it)"
  wait -n "${pids[@]}" "${server_pid[@]}"
  exit 0
fi

# --- 1. The Chromium battle test through HAProxy ---------------------------------------------------
echo "[cluster] the browser's battle test through HAProxy"
(cd end2end && ARENA_URL="$lb" npx playwright test battle.spec.ts -g "a full battle")

# --- 2. A vote load during a rolling restart ---------------------------------------------------------
before_5xx=$(stat arena FRONTEND hrsp_5xx)
"$bin/arena-bench" chaos --urls "$lb" --seconds 45 --voters 4 > "$out/audit.md" 2>&1 &
load=$!
sleep 5
events=()
for i in 0 1 2; do
  name="arena$((i + 1))"
  t0=$(now_ms)
  kill -TERM "${server_pid[$i]}"
  # Out of HAProxy's rotation while it drains, then gone.
  until [ "$(stat arena_servers "$name" status)" != UP ]; do sleep 0.1; done
  t_out=$(now_ms)
  wait "${server_pid[$i]}" 2>/dev/null || true
  t_exit=$(now_ms)
  start_server "$i"
  wait_up "$name"
  events+=("| $name | $(( t_out - t0 )) ms | $(( t_exit - t0 )) ms | $(( $(now_ms) - t0 )) ms |")
done
status=0
wait "$load" || status=$?
after_5xx=$(stat arena FRONTEND hrsp_5xx)
requests=$(stat arena FRONTEND req_tot)
{
  echo "### Rolling restart behind HAProxy"
  echo
  echo "| process | out of rotation after SIGTERM | exited | UP again |"
  echo "|---|---:|---:|---:|"
  printf '%s\n' "${events[@]}"
  echo
  echo "requests through HAProxy: $requests; answered with a 5xx during the load: $(( after_5xx - before_5xx ))"
  cat "$out/audit.md"
} | tee "$out/report.md"
if [ "$(( after_5xx - before_5xx ))" -gt 0 ]; then
  echo "[cluster] HAProxy answered $(( after_5xx - before_5xx )) requests with a 5xx (logs in $out/)" >&2
  status=1
fi
[ "$status" = 0 ] || { echo "[cluster] FAILED (logs in $out/)" >&2; exit "$status"; }
echo "[cluster] done: the rolling restart lost no vote and answered no request with a 5xx"
