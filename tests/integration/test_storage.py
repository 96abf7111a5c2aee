"""Storage set-up: migrations match the table definitions; SQLite runs WAL, FULL, foreign keys."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ledger.storage.engine import is_sqlite
from ledger.storage.migrate import current_revision, migrate
from ledger.storage.tables import metadata
from tests.support.ledgers import LedgerFixture


def test_migrations_create_exactly_the_declared_schema(ledger: LedgerFixture) -> None:
    engine = ledger.node.engine
    with engine.connect() as conn:
        # App projection tables are created from their own metadata; compare the ledger's.
        def ledger_tables_only(name: str | None, type_: str, _parent: object) -> bool:
            return type_ != "table" or name in metadata.tables

        context = MigrationContext.configure(conn, opts={"include_name": ledger_tables_only})
        diff = compare_metadata(context, metadata)
    assert diff == []
    assert current_revision(engine) == "0002"
    migrate(engine)  # idempotent on start
    assert current_revision(engine) == "0002"


def test_sqlite_runs_wal_full_sync_and_foreign_keys(ledger: LedgerFixture) -> None:
    engine = ledger.node.engine
    if not is_sqlite(engine):
        assert engine.dialect.driver == "psycopg"
        return
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_failed_sqlite_begin_is_sqlalchemys_operational_error(ledger: LedgerFixture) -> None:
    """BEGIN goes to the sqlite3 connection directly (engine._sqlite_on_begin); when it fails
    (here: a transaction is already open on it; in service: the database stays locked past the
    busy timeout) callers still get SQLAlchemy's OperationalError naming the statement, which
    the CLI's exit codes and the scan-count flush catch, not the driver's own error."""
    engine = ledger.node.engine
    if not is_sqlite(engine):
        assert engine.dialect.driver == "psycopg"  # PostgreSQL's BEGIN is SQLAlchemy's own
        return
    with engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        dbapi.execute("BEGIN")
        with pytest.raises(OperationalError, match="BEGIN DEFERRED"):
            conn.begin()
        dbapi.execute("ROLLBACK")
