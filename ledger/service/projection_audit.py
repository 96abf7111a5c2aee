"""`sealchain audit --projections`: would a reindex change any app state the ledger serves?

The apps' state checks (pipeline step 9) and public views read projection tables, not entries,
so an edited row there (a pack's holder, a certificate's status) would change what the ledger
accepts and shows although every entry still verifies. This check copies each derived app
table, replays all entries into the tables in the same transaction exactly as `sealchain
reindex` would, compares replayed and stored rows with `EXCEPT` in the database (memory stays
flat), names the first difference, and rolls everything back.

The replay holds the write lock for its whole length, so blocks (and anything else written
under that lock, such as beef's scan counts) wait meanwhile: run it when the ledger is quiet,
or against a copy. Tables an app keeps off the ledger (`App.off_ledger_tables`) are not
compared. The membership tables are checked by the main audit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Connection, Engine, Table, text

from ledger.errors import ConfigError
from ledger.service.app import Registry
from ledger.service.reindex import replay_entries
from ledger.storage.engine import rolled_back_transaction

STORED_PREFIX = "audit_stored_"  # + the table's position: PostgreSQL cuts names at 63 bytes


@dataclass
class ProjectionCheck:
    ok: bool
    tables: int = 0
    rows: int = 0  # stored rows that matched a replayed row
    entries: int = 0  # entries replayed
    where: str | None = None  # "table beef_objects"
    first_bad: str | None = None

    @property
    def summary(self) -> str:
        return f"{self.rows} rows in {self.tables} tables equal a replay of {self.entries} entries"


def check_projections(
    engine: Engine, registry: Registry, *, progress: Callable[[int, int], None] | None = None
) -> ProjectionCheck:
    """Raises ConfigError for an app table the comparison cannot key (no primary key)."""
    tables = registry.derived_tables()
    for table in tables:
        if not table.primary_key.columns:
            raise ConfigError(
                f"app table {table.name} has no primary key: the projection check compares "
                "rows by key, and a derived table needs one to be rebuilt faithfully"
            )
    with rolled_back_transaction(engine) as conn:
        copies = [_Copy(conn, table, f"{STORED_PREFIX}{i}") for i, table in enumerate(tables)]
        for copy in copies:
            conn.exec_driver_sql(
                f"CREATE TEMP TABLE {copy.stored} AS SELECT {copy.columns} FROM {copy.live}"
            )
        entries = replay_entries(conn, registry, progress=progress)
        result = ProjectionCheck(ok=True, tables=len(tables), entries=entries)
        for copy in copies:
            fault = copy.first_difference()
            if fault is not None:
                result.ok, result.where = False, f"table {copy.table.name}"
                result.first_bad = f"table {copy.table.name}: {fault}"
                return result
            result.rows += copy.count()
        return result


class _Copy:
    """One app table (`live`, which the replay rewrites) and its copy as stored before it."""

    def __init__(self, conn: Connection, table: Table, stored_name: str) -> None:
        quote = conn.dialect.identifier_preparer.quote
        self.conn, self.table = conn, table
        self.live = conn.dialect.identifier_preparer.format_table(table)
        self.stored = quote(stored_name)
        self.key = [c.name for c in table.primary_key.columns]
        self.names = [c.name for c in table.columns]
        self.columns = ", ".join(quote(name) for name in self.names)
        # PostgreSQL's json has no equality operator (EXCEPT needs one); jsonb compares values.
        postgres = conn.dialect.name == "postgresql"
        self.compared = ", ".join(
            f"CAST({quote(c.name)} AS jsonb)"
            if postgres and isinstance(c.type, JSON)
            else quote(c.name)
            for c in table.columns
        )

    def first_difference(self) -> str | None:
        extra = self._first_row_only_in(self.stored, self.live)  # no replayed row equals it
        if extra is not None:
            replayed = self._row_with_key(extra)
            if replayed is None:
                return f"holds the row {self._describe(extra)}, which no entry produces"
            differing = [c for c in self.names if extra[c] != replayed[c]]
            return (
                f"row {self._describe(extra)} differs from a replay of the entries in "
                f"{', '.join(differing)}; rebuild with `sealchain reindex`"
            )
        missing = self._first_row_only_in(self.live, self.stored)
        if missing is not None:
            return f"lacks the row {self._describe(missing)}, which the entries produce"
        return None

    def count(self) -> int:
        return int(self.conn.exec_driver_sql(f"SELECT count(*) FROM {self.live}").scalar_one())

    def _first_row_only_in(self, a: str, b: str) -> dict[str, Any] | None:
        different = self.conn.exec_driver_sql(
            f"SELECT {self.compared} FROM {a} EXCEPT SELECT {self.compared} FROM {b} "
            "ORDER BY 1 LIMIT 1"
        ).first()
        if different is None:
            return None
        return dict(zip(self.names, different, strict=True))

    def _row_with_key(self, row: dict[str, Any]) -> dict[str, Any] | None:
        quote = self.conn.dialect.identifier_preparer.quote
        where = " AND ".join(f"{quote(c)} = :k{i}" for i, c in enumerate(self.key))
        params = {f"k{i}": row[c] for i, c in enumerate(self.key)}
        found = self.conn.execute(
            text(f"SELECT {self.compared} FROM {self.live} WHERE {where}"), params
        ).first()
        return None if found is None else dict(zip(self.names, found, strict=True))

    def _describe(self, row: dict[str, Any]) -> str:
        return ", ".join(f"{c}={row[c]!r}" for c in self.key)
