#!/usr/bin/env bash
# `make run`: the arena at http://127.0.0.1:3000 with the built-in CPU worker. Ctrl-C stops
# everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/db.sh
ensure_database
export PATH="$PWD/end2end/node_modules/.bin:$PATH"

echo "[run] building (release)"
cargo build --release -p arena-worker
bash scripts/build-site.sh --release

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_private_database
}
trap cleanup INT TERM EXIT

WORKER_LISTEN=${ARENA_WORKER_LISTEN:-127.0.0.1:8081}
ARENA_WORKER_LISTEN=$WORKER_LISTEN target/release/arena-worker &
pids+=($!)
for _ in $(seq 1 120); do
  curl -fsS "http://$WORKER_LISTEN/health" >/dev/null 2>&1 && break
  sleep 0.5
done
echo "[run] built-in worker ready on http://$WORKER_LISTEN"
# A local run exports with a local release salt (set your own for a real data release).
ARENA__SERVER__METRICS_LISTEN=${ARENA__SERVER__METRICS_LISTEN:-127.0.0.1:9300} \
  ARENA__EXPORTS__VOTER_SALT=${ARENA__EXPORTS__VOTER_SALT:-local-run} target/release/server &
pids+=($!)
echo "[run] the arena: http://127.0.0.1:3000, its metrics: http://${ARENA__SERVER__METRICS_LISTEN:-127.0.0.1:9300}/metrics  (Ctrl-C stops it)"
wait -n "${pids[@]}"
