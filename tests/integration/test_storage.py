"""Storage set-up: migrations match the table definitions; SQLite runs WAL, FULL, foreign keys."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

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
    assert current_revision(engine) == "0001"
    migrate(engine)  # idempotent on start
    assert current_revision(engine) == "0001"


def test_sqlite_runs_wal_full_sync_and_foreign_keys(ledger: LedgerFixture) -> None:
    engine = ledger.node.engine
    if not is_sqlite(engine):
        assert engine.dialect.driver == "psycopg"
        return
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
