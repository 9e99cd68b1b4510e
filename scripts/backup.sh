#!/usr/bin/env bash
# A backup of an arena's database, in pg_dump's custom format (compressed; restore with
# scripts/restore.sh, whole or table by table with pg_restore). Consistent: one snapshot, taken
# while the arena runs (votes keep arriving; the dump holds those committed before it began).
#
#   scripts/backup.sh [DATABASE_URL [FILE]]
#
# DATABASE_URL defaults to $DATABASE_URL; FILE to backups/arena-<UTC time>.dump. Prints the
# file, its size and SHA-256, and checks that pg_restore can read its table of contents.
set -euo pipefail
url=${1:-${DATABASE_URL:-}}
[ -n "$url" ] || { echo "usage: scripts/backup.sh DATABASE_URL [FILE] (or set DATABASE_URL)" >&2; exit 2; }
file=${2:-backups/arena-$(date -u +%Y%m%dT%H%M%SZ).dump}
mkdir -p "$(dirname "$file")"
tmp="$file.partial"
trap 'rm -f "$tmp"' EXIT
# --no-owner/--no-privileges: the dump restores under whichever role restores it.
pg_dump --format=custom --compress=6 --no-owner --no-privileges --file="$tmp" "$url"
pg_restore --list "$tmp" > /dev/null
mv "$tmp" "$file"
trap - EXIT
size=$(stat -c %s "$file")
sum=$(sha256sum "$file" | cut -d' ' -f1)
echo "[backup] $file: $size bytes, sha256 $sum"
