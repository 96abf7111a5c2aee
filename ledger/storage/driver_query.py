"""`DriverQuery`: a select built once with SQLAlchemy, run on the database driver's own cursor.

For the few statements a hot read path runs per request (a scan page runs three): through
`Connection.execute`, even with the statement built once, SQLAlchemy's cache-key lookup,
parameter processing and result set-up cost 25 µs a statement against 8 on the driver, for a
primary-key look-up SQLite answers in a few (docs/benchmarks.md, "Scan page, fourth round").

The SQL is SQLAlchemy's own compilation for the connection's dialect, made once per dialect;
the statement's literal values (`kind == "pack"`) are bound from it, the caller's by name.
Parameters go through their types' bind processing as with `execute` (a DateTime becomes the
string SQLite stores), and a connection not yet in a transaction begins one, as `execute` does.
Rows are named tuples of the values as the driver returns them: no result processing, so a
BOOLEAN is 0 or 1 on SQLite and a bool on PostgreSQL; callers convert what they need. Driver
errors are raised as SQLAlchemy's (`OperationalError` and the rest), as `execute` raises them,
so a standby that stops answering is caught where it was before. Not for statements with
expanding `IN` parameters, and SQLAlchemy's cursor events do not see these statements.
"""

from __future__ import annotations

import threading
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.selectable import CompoundSelect, Select


class DriverQuery:
    def __init__(self, statement: Select[Any] | CompoundSelect[Any]) -> None:
        if any(bind.expanding for bind in statement.compile().binds.values()):
            raise ValueError("a DriverQuery cannot run expanding IN parameters")
        self.statement = statement
        self.names = tuple(statement.selected_columns.keys())
        row: Any = namedtuple("Row", self.names)  # type: ignore[misc]  # names known at run time
        self._make: Callable[[Iterable[Any]], Any] = row._make
        # Per dialect: how to run it. Weakly keyed: a process that makes and drops engines
        # (tests, benchmarks) drops these.
        self._compiled: weakref.WeakKeyDictionary[Dialect, _Compiled] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def rows(self, conn: Connection, **params: Any) -> list[Any]:
        """Every row, in the transaction of `conn` (begun here if it has none yet)."""
        compiled = self._compile(conn.dialect)
        values = {**compiled.literals, **params}
        for name, process in compiled.processors.items():
            if name in params:
                values[name] = process(params[name])
        order = compiled.order
        args: Any = values if order is None else [values[name] for name in order]
        if not conn.in_transaction():
            conn.begin()
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None, "a connection in a transaction is checked out"
        error = conn.dialect.loaded_dbapi.Error
        try:
            cursor = dbapi.cursor()
            try:
                cursor.execute(compiled.sql, args)
                found = cursor.fetchall()
            finally:
                cursor.close()
        except error as e:
            raise DBAPIError.instance(compiled.sql, args, e, error) from e
        make = self._make
        return [make(row) for row in found]

    def first(self, conn: Connection, **params: Any) -> Any | None:
        found = self.rows(conn, **params)
        return found[0] if found else None

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect)
        if compiled is None:
            made = self.statement.compile(dialect=dialect)
            processors: dict[str, Callable[[Any], Any]] = {}
            for name, bind in made.binds.items():
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processors[name] = process
            literals = {
                name: processors.get(name, _same)(bind.effective_value)
                for name, bind in made.binds.items()
                if not bind.required
            }
            order = tuple(made.positiontup) if made.positiontup is not None else None
            compiled = _Compiled(made.string, order, literals, processors)
            with self._lock:
                self._compiled[dialect] = compiled
        return compiled


class _Compiled(NamedTuple):
    sql: str
    order: tuple[str, ...] | None  # the parameters' positional order; None: by name
    literals: dict[str, Any]  # the statement's own values, bind-processed
    processors: dict[str, Callable[[Any], Any]]  # bind processing of the caller's values


def _same(value: Any) -> Any:
    return value
