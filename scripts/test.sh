#!/usr/bin/env bash
# `make test`: format, lints, unit and integration tests (real Postgres, real model), and the
# end-to-end browser test (headless Debian Chromium driven by Playwright).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/db.sh
ensure_database
export PATH="$PWD/end2end/node_modules/.bin:$PATH"
# The worker tests run candle in-process: one compute thread each, as the binaries pin it
# (see docs/worker.md); the 2-core machines thrash otherwise.
export CANDLE_NUM_THREADS=1 RAYON_NUM_THREADS=1
export ARENA_WORKER_MODEL_PATH="$PWD/.local/models/SmolLM2-135M-Instruct.Q4_1.gguf"

pids=()
# The databases the tests created (one per test, one for the browser test) are dropped at the end,
# pass or fail.
drop_test_databases() {
  psql "$DATABASE_URL" -Atc "select datname from pg_database
      where datname like 'arena\_test\_%' or datname like 'arena\_e2e\_%'" 2>/dev/null |
    while read -r db; do
      psql "$DATABASE_URL" -qc "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true
    done
}
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_or_kill "${pids[@]}"
  drop_test_databases
  stop_private_database
}
trap cleanup INT TERM EXIT

step() { printf '\n\033[1;34m== %s\033[0m (at %dm%02ds)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

step "format"
cargo fmt --all -- --check
step "clippy (server side, then the wasm bundle)"
cargo clippy --workspace --exclude frontend --all-targets -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
step "unit and integration tests"
cargo test --workspace --exclude frontend
step "deployment files (HAProxy, Prometheus rules, Grafana, systemd)"
bash scripts/check-deploy.sh target/debug

step "end to end in headless Chromium"
bash scripts/build-site.sh --no-server
# The server and worker binaries `cargo test` just built (same features: no second build).
for bin in server arena-worker; do
  [ -x "target/debug/$bin" ] || { echo "target/debug/$bin is missing" >&2; exit 1; }
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
worker_port=$(free_port)
second_port=$(free_port)
app_port=$(free_port)
e2e_db="arena_e2e_$(date +%s)"
base_url="${DATABASE_URL%/*}"
psql "$DATABASE_URL" -qc "create database $e2e_db" >/dev/null
ARENA_WORKER_LISTEN="127.0.0.1:$worker_port" target/debug/arena-worker > target/e2e-worker.log 2>&1 &
pids+=($!)
# A second worker, added from the console by the browser test while the arena runs.
ARENA_WORKER_LISTEN="127.0.0.1:$second_port" target/debug/arena-worker > target/e2e-worker2.log 2>&1 &
pids+=($!)
for port in "$worker_port" "$second_port"; do
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.5
  done
done
cat > target/e2e-config.toml <<TOML
[[models]]
key = "smollm2-135m-instruct-t0.2"
display_name = "SmolLM2-135M-Instruct (temperature 0.2)"
organization = "Hugging Face"
license = "Apache-2.0"
temperature = 0.2
top_p = 0.9
max_tokens = 48
system_prompt = "You are a helpful assistant."
endpoints = [{ base_url = "http://127.0.0.1:$worker_port", upstream_model = "smollm2-135m-instruct", max_concurrency = 4 }]

[[models]]
key = "smollm2-135m-instruct-t1.0"
display_name = "SmolLM2-135M-Instruct (temperature 1.0)"
organization = "Hugging Face"
license = "Apache-2.0"
temperature = 1.0
top_p = 0.95
max_tokens = 48
system_prompt = "You are a helpful assistant."
endpoints = [{ base_url = "http://127.0.0.1:$worker_port", upstream_model = "smollm2-135m-instruct", max_concurrency = 4 }]
TOML
DATABASE_URL="$base_url/$e2e_db" ARENA_CONFIG=target/e2e-config.toml ARENA__EXPORTS__VOTER_SALT=e2e \
  ARENA__SERVER__LISTEN="127.0.0.1:$app_port" target/debug/server > target/e2e-server.log 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$app_port/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
# The first admin, as a new arena gets one: from the command line, password on stdin.
echo "correct horse battery" | DATABASE_URL="$base_url/$e2e_db" ARENA_CONFIG=target/e2e-config.toml \
  target/debug/server admin create --username e2e-admin
mkdir -p docs
(cd end2end && ARENA_URL="http://127.0.0.1:$app_port" SECOND_WORKER_URL="http://127.0.0.1:$second_port" \
  ARENA_ADMIN=e2e-admin npx playwright test)

# The research exports of the browser test's real votes, every schema in every format, as
# researchers will load them: pandas, pyarrow and Hugging Face datasets, offline; row counts,
# SHA-256 and key columns against the manifests, Parquet rows against JSONL rows (docs/exports.md).
step "exports load with pandas, pyarrow and datasets"
rm -rf target/e2e-exports && mkdir -p target/e2e-exports
for schema in chatbot_arena_conversations arena_human_preference_100k arena_human_preference_140k \
    kaggle_55k ebaluatoia dpo full; do
  for format in jsonl csv parquet; do
    DATABASE_URL="$base_url/$e2e_db" ARENA_CONFIG=target/e2e-config.toml ARENA__EXPORTS__VOTER_SALT=e2e \
      target/debug/server export --schema "$schema" --format "$format" --votes all --voided include \
      --out "target/e2e-exports/$schema.$format"
  done
done
.local/pyenv/bin/python scripts/datasets_check.py target/e2e-exports

# The backup drill (docs/operations.md): dump the browser test's arena while its server runs,
# restore it into a new database, start a server on the copy, and check that the latest stored
# rating run reproduces there bit for bit and that the full export's bytes are unchanged.
step "backup and restore"
bash scripts/backup.sh "$base_url/$e2e_db" target/e2e-backup.dump
bash scripts/restore.sh target/e2e-backup.dump "$base_url/${e2e_db}_restored"
restored_port=$(free_port)
DATABASE_URL="$base_url/${e2e_db}_restored" ARENA_CONFIG=target/e2e-config.toml ARENA__EXPORTS__VOTER_SALT=e2e \
  ARENA__SERVER__LISTEN="127.0.0.1:$restored_port" target/debug/server > target/e2e-restored-server.log 2>&1 &
restored_pid=$!
pids+=($restored_pid)
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$restored_port/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
run=$(psql "$base_url/$e2e_db" -Atc "select max(id) from rating_run where refresh and source_id is null")
[ -n "$run" ] || { echo "the browser test's arena has no rating run" >&2; exit 1; }
curl -fsS "http://127.0.0.1:$restored_port/api/v1/leaderboard/runs/$run/reproduce" |
  python3 -c 'import json, sys
r = json.load(sys.stdin)
assert r["identical"], ("run %s does not reproduce on the restored arena" % r["run_id"], r)
print("[backup] run %s reproduces on the restored arena (%d votes, %d rows)"
      % (r["run_id"], r["recomputed_vote_count"], len(r["recomputed"])))'
DATABASE_URL="$base_url/${e2e_db}_restored" ARENA_CONFIG=target/e2e-config.toml ARENA__EXPORTS__VOTER_SALT=e2e \
  target/debug/server export --schema full --format jsonl --votes all --voided include \
  --out target/e2e-restored-full.jsonl
original=$(sha256sum < target/e2e-exports/full.jsonl | cut -d' ' -f1)
copy=$(sha256sum < target/e2e-restored-full.jsonl | cut -d' ' -f1)
[ "$original" = "$copy" ] || { echo "the restored arena exports other bytes ($copy, not $original)" >&2; exit 1; }
echo "[backup] the full export is the same bytes on the restored arena (sha256 $copy)"
kill "$restored_pid" 2>/dev/null || true

# Three server processes behind HAProxy (make cluster's short version): the browser's battle test
# through it, then a vote load during a rolling restart: no vote lost, no request answered 5xx.
step "three processes behind HAProxy"
CLUSTER_CHECK=1 CLUSTER_CONFIG=target/e2e-config.toml bash scripts/cluster.sh

# The harnesses of make bench and make chaos, short, on the binaries cargo test built: they must
# not rot. Their figures are printed, never asserted (the full runs' figures are in docs/scale.md);
# chaos fails on a lost, changed or duplicated vote or counts that differ from the votes.
step "make bench, short"
ARENA_PREBUILT=1 BENCH_QUICK=1 bash scripts/bench.sh
step "make chaos, short"
ARENA_PREBUILT=1 CHAOS_QUICK=1 bash scripts/chaos.sh
step "all tests passed"
