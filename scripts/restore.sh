#!/usr/bin/env bash
# Restores a backup made by scripts/backup.sh into a NEW database (never over a live one):
#
#   scripts/restore.sh FILE DATABASE_URL
#
# DATABASE_URL names the database to create (postgres://user@host:port/NAME); it must not
# exist yet. The restore stops at the first error (and drops what it created). Start a server
# on the new database (DATABASE_URL=...), check it (docs/operations.md: "Backups"), then point
# the load balancer at it.
set -euo pipefail
file=${1:-}
url=${2:-}
if [ -z "$file" ] || [ -z "$url" ]; then
  echo "usage: scripts/restore.sh FILE DATABASE_URL" >&2
  exit 2
fi
[ -r "$file" ] || { echo "[restore] cannot read $file" >&2; exit 2; }
pg_restore --list "$file" > /dev/null || { echo "[restore] $file is not a pg_dump archive" >&2; exit 2; }
name=${url##*/}
name=${name%%\?*}
server=${url%/*}
[[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "[restore] database name '$name': letters, digits, _" >&2; exit 2; }
exists=$(psql "$server/postgres" -Atc "select 1 from pg_database where datname = '$name'")
if [ -n "$exists" ]; then
  echo "[restore] database $name exists; restore into a new one (then switch over)" >&2
  exit 1
fi
psql "$server/postgres" -qc "create database \"$name\"" > /dev/null
if ! pg_restore --no-owner --no-privileges --exit-on-error --dbname="$url" "$file"; then
  psql "$server/postgres" -qc "drop database if exists \"$name\" with (force)" > /dev/null || true
  echo "[restore] failed; $name was dropped" >&2
  exit 1
fi
votes=$(psql "$url" -Atc "select count(*) from vote" 2>/dev/null || echo "no")
runs=$(psql "$url" -Atc "select count(*) from rating_run" 2>/dev/null || echo "no")
echo "[restore] $file → $name: $votes votes, $runs rating runs"
