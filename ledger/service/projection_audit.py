"""`sealchain audit --projections`: would a reindex change any app state the ledger serves?

The apps' state checks (pipeline step 9) and public views read projection tables, not entries,
so an edited row there (a pack's holder, a certificate's status) would change what the ledger
accepts and shows although every entry still verifies. This check copies each derived app
table, replays all entries into the tables in the same transaction exactly as `sealchain
reindex` would, compares replayed and stored rows with `EXCEPT` in the database (memory stays
flat), names the first difference, and rolls everything back.

The replay holds the write lock for its whole length, so blocks wait meanwhile: run it when
the ledger is quiet, or against a copy. Tables an app keeps off the ledger
(`App.off_ledger_tables`) are not compared. The membership tables are checked by the main audit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, text

from ledger.service.app import Registry
from ledger.service.reindex import replay_entries
from ledger.storage.engine import rolled_back_transaction

STORED_PREFIX = "audit_stored_"


@dataclass
class ProjectionCheck:
    ok: bool
    tables: int = 0
    rows: int = 0  # stored rows that matched a replayed row
    entries: int = 0  # entries replayed
    where: str | None = None  # "table beef_objects"
    first_bad: str | None = None


def check_projections(
    engine: Engine, registry: Registry, *, progress: Callable[[int, int], None] | None = None
) -> ProjectionCheck:
    tables = registry.derived_tables()
    with rolled_back_transaction(engine) as conn:
        quote = conn.dialect.identifier_preparer.quote
        for table in tables:
            conn.exec_driver_sql(
                f"CREATE TEMP TABLE {quote(STORED_PREFIX + table.name)} "
                f"AS SELECT * FROM {quote(table.name)}"
            )
        entries = replay_entries(conn, registry, progress=progress)
        result = ProjectionCheck(ok=True, tables=len(tables), entries=entries)
        for table in tables:
            fault = _first_difference(conn, table)
            if fault is not None:
                result.ok, result.where = False, f"table {table.name}"
                result.first_bad = f"table {table.name}: {fault}"
                return result
            result.rows += _count(conn, table.name)
        return result


def _first_difference(conn: Connection, table: Table) -> str | None:
    quote = conn.dialect.identifier_preparer.quote
    live, stored = quote(table.name), quote(STORED_PREFIX + table.name)
    key = [c.name for c in table.primary_key.columns]

    def first_row_only_in(a: str, b: str) -> dict[str, Any] | None:
        row = conn.exec_driver_sql(
            f"SELECT * FROM {a} EXCEPT SELECT * FROM {b} ORDER BY 1 LIMIT 1"
        ).first()
        return None if row is None else dict(row._mapping)

    extra = first_row_only_in(stored, live)  # stored, but no replayed row equals it
    if extra is not None:
        replayed = _row_with_key(conn, live, key, extra)
        if replayed is None:
            return f"holds the row {_describe(key, extra)}, which no entry produces"
        differing = [c for c in extra if extra[c] != replayed[c]]
        return (
            f"row {_describe(key, extra)} differs from a replay of the entries in "
            f"{', '.join(differing)}; rebuild with `sealchain reindex`"
        )
    missing = first_row_only_in(live, stored)  # replayed, but not stored
    if missing is not None:
        return f"lacks the row {_describe(key, missing)}, which the entries produce"
    return None


def _row_with_key(
    conn: Connection, table: str, key: list[str], row: dict[str, Any]
) -> dict[str, Any] | None:
    quote = conn.dialect.identifier_preparer.quote
    where = " AND ".join(f"{quote(c)} = :k{i}" for i, c in enumerate(key))
    params = {f"k{i}": row[c] for i, c in enumerate(key)}
    found = conn.execute(text(f"SELECT * FROM {table} WHERE {where}"), params).first()
    return None if found is None else dict(found._mapping)


def _describe(key: list[str], row: dict[str, Any]) -> str:
    return ", ".join(f"{c}={row[c]!r}" for c in key)


def _count(conn: Connection, name: str) -> int:
    quote = conn.dialect.identifier_preparer.quote
    return int(conn.exec_driver_sql(f"SELECT count(*) FROM {quote(name)}").scalar_one())
