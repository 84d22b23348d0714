#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the tests and print `export TEST_POSTGRES_URL=...`.
#   eval "$(bash .ci/postgres.sh start)"      ...      bash .ci/postgres.sh stop
# Installs PostgreSQL with apt-get when no server binaries are found. PostgreSQL refuses to run as
# root, so as root the server runs as a dedicated user (postgres, or ci-postgres if absent).
set -euo pipefail
PORT="${PG_TEST_PORT:-54329}"
DATA="${PG_TEST_DIR:-/tmp/trust-cx-ci-pg}"

find_bin() {
  local found
  found=$(command -v initdb 2>/dev/null || true)
  [ -n "$found" ] && { dirname "$(readlink -f "$found")"; return; }
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$OWNER" -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    BIN=$(find_bin)
    if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
      echo "installing PostgreSQL with apt-get" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
      BIN=$(find_bin)
    fi
    OWNER=$(id -un)
    if [ "$(id -u)" = 0 ]; then
      OWNER=postgres
      id -u postgres >/dev/null 2>&1 || { id -u ci-postgres >/dev/null 2>&1 || useradd -r -M ci-postgres; OWNER=ci-postgres; }
    fi
    if [ -f "$DATA/postmaster.pid" ]; then as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate stop >&2 || true; fi
    rm -rf "$DATA"; mkdir -p "$DATA"; chown "$OWNER" "$DATA"; chmod 700 "$DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
      -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >&2
    echo "export TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    BIN=$(find_bin)
    OWNER=$(stat -c %U "$DATA" 2>/dev/null || id -un)
    [ -d "$DATA" ] && as_owner "$BIN/pg_ctl" -D "$DATA" -m fast stop >&2 || true
    ;;
esac
