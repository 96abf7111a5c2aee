#!/bin/bash
# The hot standby's entrypoint: on first start, copy the primary (pg_basebackup -R writes
# standby.signal and primary_conninfo, so the server starts as a streaming standby); then run
# the server, read-only, replaying the primary's WAL (docs/deploy.md).
set -euo pipefail
: "${PRIMARY_HOST:?}" "${POSTGRES_USER:?}" "${PGPASSWORD:?}" "${PGDATA:?}"
if [ ! -s "${PGDATA}/PG_VERSION" ]; then
  until pg_basebackup -h "${PRIMARY_HOST}" -U "${POSTGRES_USER}" -D "${PGDATA}" -R -X stream; do
    echo "waiting for the primary at ${PRIMARY_HOST}" >&2
    rm -rf "${PGDATA:?}"/*
    sleep 2
  done
  chmod 700 "${PGDATA}"
fi
# The image's own entrypoint: it hands the directory to the postgres user and, finding a
# database there already, starts the server without initialising anything.
exec docker-entrypoint.sh postgres -c hot_standby=on
