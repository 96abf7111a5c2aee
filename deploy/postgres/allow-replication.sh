#!/bin/bash
# Run once by the postgres image when it creates the primary's data directory
# (/docker-entrypoint-initdb.d): let the standby stream the WAL over the compose network.
set -euo pipefail
echo "host replication ${POSTGRES_USER} all scram-sha-256" >> "${PGDATA}/pg_hba.conf"
