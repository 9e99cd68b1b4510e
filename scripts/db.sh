#!/usr/bin/env bash
# Sourced by run.sh and test.sh: makes DATABASE_URL point at a Postgres that answers.
# Uses $DATABASE_URL if it answers, else the local Postgres on 127.0.0.1:5432 if it answers
# with trust auth (database `arena`, created if missing); otherwise starts (or reuses) a private cluster in
# .local/pg, on a free port, as the unprivileged `postgres` user when run as root.
# Sets ARENA_PRIVATE_PG=1 when it started the private cluster itself.

pg_answers() { psql "$1" -qAtc 'select 1' >/dev/null 2>&1; }

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ]; then echo "$dir"; else dirname "$(command -v initdb)"; fi
}

as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_database() {
  ARENA_PRIVATE_PG=0
  if [ -n "${DATABASE_URL:-}" ] && pg_answers "$DATABASE_URL"; then
    echo "[db] using DATABASE_URL"
    return 0
  fi
  [ -n "${DATABASE_URL:-}" ] && echo "[db] DATABASE_URL does not answer"
  # The machine's own Postgres on the standard port, if one answers with trust auth.
  if [ -z "${DATABASE_URL:-}" ] && pg_answers "postgres://postgres@127.0.0.1:5432/postgres"; then
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/arena"
    if ! pg_answers "$DATABASE_URL"; then
      psql "postgres://postgres@127.0.0.1:5432/postgres" -qc 'create database arena' >/dev/null
    fi
    echo "[db] using the local Postgres on 127.0.0.1:5432 (database arena)"
    export DATABASE_URL ARENA_PRIVATE_PG
    return 0
  fi
  echo "[db] no Postgres answers; starting a private cluster"
  local root dir bin port
  root="$(pwd)/.local/pg"
  dir="$root/data"
  bin=$(pg_bin)
  mkdir -p "$root"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$root"
  fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    echo "[db] initdb $dir"
    as_pg_user "$bin/initdb" -D "$dir" -A trust -U postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_pg_user "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    port=$(cat "$root/port")
  else
    port=54329
    while ! port_free "$port"; do port=$((port + 1)); done
    echo "$port" > "$root/port"
    echo "[db] starting the private cluster on port $port"
    as_pg_user "$bin/pg_ctl" -D "$dir" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on" start >/dev/null
    ARENA_PRIVATE_PG=1
  fi
  DATABASE_URL="postgres://postgres@127.0.0.1:$port/arena"
  if ! pg_answers "$DATABASE_URL"; then
    psql "postgres://postgres@127.0.0.1:$port/postgres" -qc 'create database arena' >/dev/null
  fi
  export DATABASE_URL ARENA_PRIVATE_PG
}

stop_private_database() {
  if [ "${ARENA_PRIVATE_PG:-0}" = 1 ]; then
    echo "[db] stopping the private cluster"
    as_pg_user "$(pg_bin)/pg_ctl" -D "$(pwd)/.local/pg/data" -m fast stop >/dev/null 2>&1 || true
  fi
}

# stop_or_kill PID...: after a SIGTERM, waits up to 45 s for the processes (a server lets its
# answers finish), then kills what is left, so that a failing script ends instead of hanging.
stop_or_kill() {
  local pid alive
  for _ in $(seq 1 450); do
    alive=0
    for pid in "$@"; do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "$@"; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
