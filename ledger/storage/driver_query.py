"""`DriverQuery`: a select built once with SQLAlchemy, run on the database driver's own cursor.

For the few statements a hot read path runs per request (a scan page runs three): through
`Connection.execute`, even with the statement built once, SQLAlchemy's cache-key lookup,
parameter processing and result set-up cost 25 µs a statement against 8 on the driver, for a
primary-key look-up SQLite answers in a few (docs/benchmarks.md, "Scan page, fourth round").

The SQL is SQLAlchemy's own compilation for the connection's dialect, made once per dialect;
the statement's literal values (`kind == "pack"`) are bound from it, the caller's by name.
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
from typing import Any

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
        # Per dialect: the SQL, the positional order of its parameters (None: by name), and
        # the statement's own literal values.
        # Weakly keyed: a process that makes and drops engines (tests, benchmarks) drops these.
        self._compiled: weakref.WeakKeyDictionary[
            Dialect, tuple[str, tuple[str, ...] | None, dict[str, Any]]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def rows(self, conn: Connection, **params: Any) -> list[Any]:
        """Every row, in the transaction of `conn`."""
        sql, order, literals = self._compile(conn.dialect)
        values = {**literals, **params}
        args: Any = values if order is None else [values[name] for name in order]
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None, "a connection in a transaction is checked out"
        cursor = dbapi.cursor()
        try:
            cursor.execute(sql, args)
            found = cursor.fetchall()
        except conn.dialect.loaded_dbapi.Error as e:
            raise DBAPIError.instance(sql, args, e, conn.dialect.loaded_dbapi.Error) from e
        finally:
            cursor.close()
        make = self._make
        return [make(row) for row in found]

    def first(self, conn: Connection, **params: Any) -> Any | None:
        found = self.rows(conn, **params)
        return found[0] if found else None

    def _compile(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        compiled = self._compiled.get(dialect)
        if compiled is None:
            made = self.statement.compile(dialect=dialect)
            literals = {name: bind.value for name, bind in made.binds.items() if not bind.required}
            order = tuple(made.positiontup) if made.positiontup is not None else None
            compiled = (made.string, order, literals)
            with self._lock:
                self._compiled[dialect] = compiled
        return compiled
