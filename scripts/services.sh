#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL and Redis for the tests, in ./var/services.
#   scripts/services.sh start   -> prints `export DATABASE_URL=... REDIS_URL=...` lines
#   scripts/services.sh replica -> also a streaming replica of it (pg_basebackup -R) on the next
#                                  port; prints `export DATABASE_REPLICA_URL=...`
#   scripts/services.sh stop
# PostgreSQL 15's binaries must be on the PATH (initdb, pg_ctl); Redis comes from Debian's
# redis-server package, installed here if missing. initdb refuses root, so as root the cluster
# runs as the `postgres` user.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VAR="$ROOT/var/services"
PGDATA="$VAR/pgdata"
PGPORT="${TEST_PGPORT:-55432}"
REDIS_PORT="${TEST_REDIS_PORT:-56379}"
REPLICA_DATA="$VAR/replica"
REPLICA_PORT="${TEST_PG_REPLICA_PORT:-$((PGPORT + 1))}"

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

find_pg_bin() {
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
  echo "PostgreSQL server binaries (initdb) not found; install postgresql" >&2
  exit 1
}

ensure_redis() {
  command -v redis-server >/dev/null 2>&1 && return
  echo "installing redis-server..." >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
}

start() {
  mkdir -p "$VAR"
  PGBIN=$(find_pg_bin)
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$VAR" --shell /bin/bash postgres
    chmod o+x "$ROOT" "$ROOT/var" 2>/dev/null || true
    # every parent folder must be traversable by the postgres user
    p="$ROOT"; while [ "$p" != "/" ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
    chown postgres "$VAR"
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
    cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$VAR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 256MB
# A streaming replica may follow (the replica command; tests/ops/test_read_replica.py makes
# its own pair). PostgreSQL 15's defaults, stated because they are relied on; initdb's
# pg_hba.conf already trusts replication connections from 127.0.0.1.
wal_level = replica
max_wal_senders = 10
CONF
  fi
  if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$VAR/postgres.log" -w -t 60 start >/dev/null
  fi
  as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qtAc \
    "SELECT 1 FROM pg_database WHERE datname = 'portal'" postgres | grep -q 1 \
    || as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres portal
  ensure_redis
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
      --daemonize yes --dir "$VAR" --logfile "$VAR/redis.log" --pidfile "$VAR/redis.pid"
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/portal"
  echo "export TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
  echo "export TEST_PGBIN=$PGBIN TEST_PGPORT=$PGPORT TEST_REDIS_PORT=$REDIS_PORT"
}

replica() {
  start
  PGBIN=$(find_pg_bin)
  if [ ! -s "$REPLICA_DATA/PG_VERSION" ]; then
    rm -rf "$REPLICA_DATA"
    as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT" -U postgres -D "$REPLICA_DATA" \
      -R -X stream -c fast
  fi
  if ! as_pg "$PGBIN/pg_ctl" -D "$REPLICA_DATA" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$REPLICA_DATA" -l "$VAR/replica.log" -w -t 60 \
      -o "-p $REPLICA_PORT -k $VAR" start >/dev/null
  fi
  for _ in $(seq 100); do
    as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qtAc \
      "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'" postgres | grep -q 1 && break
    sleep 0.1
  done
  echo "export DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:$REPLICA_PORT/portal"
}

stop() {
  PGBIN=$(find_pg_bin)
  if [ -d "$REPLICA_DATA" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$REPLICA_DATA" -m fast stop >/dev/null 2>&1 || true
  fi
  if [ -d "$PGDATA" ]; then as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true; fi
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  replica) replica ;;
  stop) stop ;;
  *) echo "usage: $0 start|replica|stop" >&2; exit 2 ;;
esac
