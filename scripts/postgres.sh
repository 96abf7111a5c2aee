#!/usr/bin/env bash
# Start the local PostgreSQL 15 cluster for the tests and print its admin URL.
#   scripts/postgres.sh start   install if missing (apt), start, set the test password, print URL
#   scripts/postgres.sh url     print the URL if the server answers (exit 1 if not)
#   scripts/postgres.sh local   start it if it is installed here and we may (root), never install;
#                               print the URL if a server answers (what `make test` uses)
#   scripts/postgres.sh replica        start (creating it if missing) a hot-standby streaming
#                                      replica of that cluster on port 5433 and print its URL
#   scripts/postgres.sh replica-url    print the replica's URL if it answers (exit 1 if not)
#   scripts/postgres.sh replica-local  as `local`, for the replica (what `make test` uses)
set -euo pipefail
PASSWORD=${SEALCHAIN_PG_PASSWORD:-sealchain}
URL="postgresql+psycopg://postgres:${PASSWORD}@127.0.0.1:5432/postgres"
REPLICA_PORT=5433
REPLICA_URL="postgresql+psycopg://postgres:${PASSWORD}@127.0.0.1:${REPLICA_PORT}/postgres"
SLOT=sealchain_replica

answers() { pg_isready -q -h 127.0.0.1 -p "${1:-5432}" 2>/dev/null; }
# psql as the postgres OS user over the Unix socket (peer authentication: no password).
sql() { su postgres -c "psql -X -q -At -p $1 -c \"$2\""; }

# Whether the replica's WAL receiver streams from the primary (within 20 s of starting).
streaming() {
  for _ in $(seq 1 20); do
    [ "$(sql "$REPLICA_PORT" "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'" 2>/dev/null)" = 1 ] && return 0
    sleep 1
  done
  return 1
}

# A fresh copy of the primary, as Debian's cluster "<version> replica": pg_basebackup -R writes
# standby.signal and primary_conninfo, so the copy starts as a hot standby that streams from
# the primary through the replication slot (the primary keeps the WAL it has not received).
make_replica() {
  local version=$1 data
  data=/var/lib/postgresql/$version/replica
  if pg_lsclusters -h | grep -q "^$version replica "; then
    pg_dropcluster --stop "$version" replica >&2
  fi
  sql 5432 "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null
  # A replica left stopped must not fill the primary's disk through its slot: past 1 GB of WAL
  # the slot is given up and the next `replica` finds it broken and copies the primary again.
  sql 5432 "ALTER SYSTEM SET max_slot_wal_keep_size = '1GB'" >/dev/null
  sql 5432 "SELECT pg_reload_conf()" >/dev/null
  pg_createcluster "$version" replica -p "$REPLICA_PORT" >&2
  rm -rf "$data"
  # Over the Unix socket as the postgres OS user (Debian's `local replication all peer`): the
  # standby's primary_conninfo then holds no password.
  su postgres -c "pg_basebackup -h /var/run/postgresql -p 5432 -U postgres -D '$data' -R -X stream -C -S $SLOT -c fast" >&2
}

case "${1:-start}" in
  url)
    answers && echo "$URL" || exit 1
    ;;
  local)
    if ! answers && command -v pg_ctlcluster >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      exec "$0" start
    fi
    answers && echo "$URL" || exit 1
    ;;
  start)
    # Only the URL goes to stdout (callers capture it); everything the tools print goes to stderr,
    # e.g. pg_ctlcluster's "Removed stale pid file." after an unclean shutdown. The server must
    # not inherit the caller's capture pipe either, or `$(scripts/postgres.sh start)` never ends.
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
      if [ "$(id -u)" = 0 ]; then
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
      else
        echo "PostgreSQL is not installed; see DEVELOPERS.md" >&2; exit 1
      fi
    fi
    if ! answers; then
      version=$(ls /usr/lib/postgresql | sort -n | tail -1)
      pg_lsclusters -h | grep -q "^$version main" || pg_createcluster "$version" main >&2
      pg_ctlcluster "$version" main start </dev/null >&2
      for _ in $(seq 1 30); do answers && break; sleep 1; done
    fi
    su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD '${PASSWORD}'\"" >/dev/null
    answers || { echo "PostgreSQL did not start" >&2; exit 1; }
    echo "$URL"
    ;;
  replica-url)
    answers "$REPLICA_PORT" && echo "$REPLICA_URL" || exit 1
    ;;
  replica-local)
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      "$0" replica >/dev/null || true
    fi
    answers "$REPLICA_PORT" && echo "$REPLICA_URL" || exit 1
    ;;
  replica)
    "$0" start >/dev/null
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    if pg_lsclusters -h | grep -q "^$version replica "; then
      answers "$REPLICA_PORT" || pg_ctlcluster "$version" replica start </dev/null >&2 || true
    fi
    if ! answers "$REPLICA_PORT" || ! streaming; then
      # Missing, or no longer able to follow the primary (its slot given up): copy it afresh.
      echo "creating the streaming replica $version/replica on port $REPLICA_PORT" >&2
      make_replica "$version"
      pg_ctlcluster "$version" replica start </dev/null >&2
      for _ in $(seq 1 30); do answers "$REPLICA_PORT" && break; sleep 1; done
      streaming || { echo "the replica on port $REPLICA_PORT does not stream from the primary" >&2; exit 1; }
    fi
    # A test stopped midway may have left replay paused (pg_wal_replay_pause): resume it.
    sql "$REPLICA_PORT" "SELECT pg_wal_replay_resume() WHERE pg_is_wal_replay_paused()" >/dev/null
    echo "$REPLICA_URL"
    ;;
  *)
    echo "usage: $0 start|url|local|replica|replica-url|replica-local" >&2; exit 2
    ;;
esac
