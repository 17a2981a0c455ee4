#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster, dropped afterwards.
#
#   scripts/with-postgres.sh COMMAND [ARGS...]
#
# The cluster listens on a Unix socket only (no TCP port), in a private temporary directory; the
# command finds it in IDCARD_TEST_POSTGRES (a libpq connection string) and the data directory in
# IDCARD_TEST_PGDATA. Installs Debian's `postgresql` when it is missing. Runs the server as the
# `postgres` user when started as root (PostgreSQL refuses root).
#
# PG_FSYNC=on|off (default on): off makes the suites faster and changes nothing they check
# (they kill the client, not the server); benches that state durable figures keep it on.
set -euo pipefail

find_bin() {
  if command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return
  fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

bin="$(find_bin || true)"
if [ -z "$bin" ] || [ ! -x "$bin/pg_ctl" ]; then
  echo "== installing postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq postgresql >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null)
  bin="$(find_bin)"
fi

base="$(mktemp -d /tmp/idcard-pg.XXXXXX)"
chmod 700 "$base"
run=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$base"
  run=(runuser -u postgres --)
fi

stop() {
  "${run[@]}" "$bin/pg_ctl" -D "$base/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$base"
}
trap stop EXIT
trap "exit 130" INT TERM

"${run[@]}" "$bin/initdb" -D "$base/data" -A trust -U postgres -E UTF8 --no-sync >"$base/initdb.log" 2>&1 \
  || { cat "$base/initdb.log" >&2; exit 1; }
"${run[@]}" "$bin/pg_ctl" -D "$base/data" -l "$base/server.log" -w \
  -o "-c listen_addresses='' -k $base -c fsync=${PG_FSYNC:-on} -c max_connections=400 -c shared_buffers=256MB" \
  start >/dev/null || { cat "$base/server.log" >&2; exit 1; }

export IDCARD_TEST_POSTGRES="host=$base user=postgres dbname=postgres"
export IDCARD_TEST_PGDATA="$base/data"
"$@"
