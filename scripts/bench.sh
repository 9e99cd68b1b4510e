#!/usr/bin/env bash
# `make bench`: the built-in worker's tokens/s and time to first token (ratios against the Q4_1
# baseline, measured in the same run), and the rating engine's benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-model.sh
cargo run --release -p arena-worker --bin worker-bench
if cargo run --release -p arena-ratings --bin arena-ratings -- --help >/dev/null 2>&1; then
  cargo run --release -p arena-ratings --bin arena-ratings -- bench
fi
