#!/usr/bin/env bash
# Builds the site the way cargo-leptos would, with only cargo and wasm-bindgen (so a fresh machine
# need not compile cargo-leptos, ~16 minutes on 2 cores):
#   1. the hydrate bundle: crate `frontend` for wasm32, then wasm-bindgen → target/site/pkg/arena.js
#      and arena_bg.wasm (wasm-opt -Oz in release, binaryen from npm: Debian's is too old);
#   2. style/main.css → target/site/pkg/arena.css, public/ → target/site/;
#   2b. content-hashed names: arena.HASH.js, arena.HASH_bg.wasm, arena.HASH.css, and the name
#      `arena.HASH` in pkg/output-name, which the server reads at start-up (it serves these
#      files as immutable for a year; a new build has new names);
#   3. the server binary (crate `server`, ssr), built without LEPTOS_OUTPUT_NAME so that its
#      hydration script asks for arena_bg.wasm, the name wasm-bindgen gives.
# Usage: scripts/build-site.sh [--release] [--no-server]
#   --no-server: only the site (make test runs the server binary `cargo test` just built).
set -euo pipefail
cd "$(dirname "$0")/.."
unset LEPTOS_OUTPUT_NAME
release=0
server=1
for arg in "$@"; do
  case "$arg" in
    --release) release=1 ;;
    --no-server) server=0 ;;
    *) echo "usage: $0 [--release] [--no-server]" >&2; exit 2 ;;
  esac
done

site=target/site
pkg="$site/pkg"
if [ "$release" = 1 ]; then
  cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
  wasm=target/wasm32-unknown-unknown/wasm-release/frontend.wasm
else
  cargo build -p frontend --lib --target wasm32-unknown-unknown
  wasm=target/wasm32-unknown-unknown/debug/frontend.wasm
fi
rm -rf "$pkg.tmp"
mkdir -p "$pkg.tmp"
wasm-bindgen --target web --no-typescript --out-dir "$pkg.tmp" --out-name arena "$wasm"
if [ "$release" = 1 ]; then
  wasm_opt="$PWD/end2end/node_modules/.bin/wasm-opt"
  [ -x "$wasm_opt" ] || wasm_opt=wasm-opt
  "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$pkg.tmp/arena_bg.wasm" -o "$pkg.tmp/arena_bg.wasm"
fi
cp style/main.css "$pkg.tmp/arena.css"
hash=$(cat "$pkg.tmp/arena.js" "$pkg.tmp/arena_bg.wasm" "$pkg.tmp/arena.css" | sha256sum | cut -c1-16)
mv "$pkg.tmp/arena.js" "$pkg.tmp/arena.$hash.js"
mv "$pkg.tmp/arena_bg.wasm" "$pkg.tmp/arena.${hash}_bg.wasm"
mv "$pkg.tmp/arena.css" "$pkg.tmp/arena.$hash.css"
echo "arena.$hash" > "$pkg.tmp/output-name"
mkdir -p "$site"
if [ -d public ]; then cp -R public/. "$site/"; fi
rm -rf "$pkg"
mv "$pkg.tmp" "$pkg"
echo "[site] $pkg: $(du -sh "$pkg" | cut -f1) ($(stat -c %s "$pkg/arena.${hash}_bg.wasm") bytes of wasm, names arena.$hash.*)"

if [ "$server" = 0 ]; then
  exit 0
elif [ "$release" = 1 ]; then
  cargo build -p server --release
else
  cargo build -p server
fi
