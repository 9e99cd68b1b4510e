#!/usr/bin/env bash
# Installs what the arena needs to build, run and test, skipping what is already there:
# Debian packages, the wasm32 target, wasm-bindgen-cli (the version in Cargo.lock), the
# end-to-end test's npm packages (Playwright, binaryen's wasm-opt), and the built-in model.
# (The site is built by scripts/build-site.sh with cargo and wasm-bindgen: no cargo-leptos.)
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

# --- Debian packages -----------------------------------------------------------------------
need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
have_cmd cc || need+=(build-essential)
have_cmd curl || need+=(curl ca-certificates)
have_cmd pkg-config || need+=(pkg-config)
have_cmd python3 || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)  # .local/pyenv
have_cmd node || need+=(nodejs)
have_cmd npm || need+=(npm)
have_cmd psql || need+=(postgresql-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || have_cmd initdb || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
have_cmd wrk || need+=(wrk)  # make bench's HTTP load generator (and its short run in make test)
[ -x /usr/sbin/haproxy ] || need+=(haproxy)  # make cluster's load balancer (and its short run in make test)
have_cmd systemd-analyze || need+=(systemd)  # checks deploy/systemd/
have_cmd promtool || need+=(prometheus)  # promtool checks the metrics scrape and the alert rules
if [ ${#need[@]} -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  for attempt in 1 2 3; do
    if $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"; then
      break
    fi
    [ "$attempt" -eq 3 ] && { echo "apt-get failed" >&2; exit 1; }
    log "apt-get failed; retrying ($attempt)"
    sleep 3
  done
fi

# --- Rust tools ----------------------------------------------------------------------------
if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
WBG_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WBG_VERSION"; then
  log "installing wasm-bindgen-cli $WBG_VERSION (must equal Cargo.lock's wasm-bindgen)"
  cargo install wasm-bindgen-cli --version "$WBG_VERSION" --force
fi

# --- npm: Playwright (driving Debian's Chromium) and binaryen's wasm-opt ------------------------
if [ ! -x end2end/node_modules/.bin/playwright ] || [ ! -x end2end/node_modules/.bin/wasm-opt ] \
   || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  log "installing end-to-end test packages (npm ci)"
  (cd end2end && npm ci --no-audit --no-fund)
fi

# --- Python tools in .local/pyenv (a venv shared by the test tools; one block per tool) -------
if [ ! -x .local/pyenv/bin/python ]; then
  log "creating the Python venv .local/pyenv"
  python3 -m venv .local/pyenv
fi

# openapi-spec-validator: checks /api/v1/openapi.json (server/tests/it/openapi.rs runs it).
OPENAPI_VALIDATOR_VERSION=0.9.0
if ! .local/pyenv/bin/python -m pip show openapi-spec-validator 2>/dev/null \
    | grep -qx "Version: $OPENAPI_VALIDATOR_VERSION"; then
  log "installing openapi-spec-validator $OPENAPI_VALIDATOR_VERSION into .local/pyenv"
  .local/pyenv/bin/python -m pip install -q --disable-pip-version-check \
    "openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION"
fi

# pandas, pyarrow and Hugging Face datasets: make test loads every export with them
# (scripts/datasets_check.py). Pinned: these install as wheels on CPython 3.11.
PANDAS_VERSION=3.1.1 PYARROW_VERSION=26.0.1 DATASETS_VERSION=5.2.0
if ! .local/pyenv/bin/python - "$PANDAS_VERSION" "$PYARROW_VERSION" "$DATASETS_VERSION" \
    >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
wanted = dict(zip(["pandas", "pyarrow", "datasets"], sys.argv[1:]))
sys.exit(any(version(name) != v for name, v in wanted.items()))
PY
then
  log "installing pandas $PANDAS_VERSION, pyarrow $PYARROW_VERSION, datasets $DATASETS_VERSION into .local/pyenv"
  .local/pyenv/bin/python -m pip install -q --disable-pip-version-check \
    "pandas==$PANDAS_VERSION" "pyarrow==$PYARROW_VERSION" "datasets==$DATASETS_VERSION"
fi

# --- The built-in model ------------------------------------------------------------------------
bash scripts/fetch-model.sh
