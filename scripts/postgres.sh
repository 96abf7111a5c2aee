#!/usr/bin/env bash
# Start the local PostgreSQL 15 cluster for the tests and print its admin URL.
#   scripts/postgres.sh start   install if missing (apt), start, set the test password, print URL
#   scripts/postgres.sh url     print the URL if the server answers (exit 1 if not)
#   scripts/postgres.sh local   start it if it is installed here and we may (root), never install;
#                               print the URL if a server answers (what `make test` uses)
set -euo pipefail
PASSWORD=${SEALCHAIN_PG_PASSWORD:-sealchain}
URL="postgresql+psycopg://postgres:${PASSWORD}@127.0.0.1:5432/postgres"

answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

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
  *)
    echo "usage: $0 start|url|local" >&2; exit 2
    ;;
esac
