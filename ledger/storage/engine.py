"""Engines for SQLite (the embedded default) and PostgreSQL (production), and the write lock.

SQLite: WAL, synchronous=FULL, foreign keys on; Python's sqlite3 is put in autocommit mode so
SQLAlchemy's "begin" event can issue `BEGIN IMMEDIATE` for writers, which takes SQLite's write
lock up front instead of failing later on upgrade. Before that BEGIN, a writer waits for its
turn on an flock of `<database>-writers`, tried again at most 1 ms after it is let go: SQLite's
own wait for a busy lock sleeps 1, 2, 5, 10, ... up to 100 ms between tries, and two server
workers committing blocks spent part of their time in those sleeps (docs/benchmarks.md,
"Signatures on every core, writers' turns"). PostgreSQL: writers take a
transaction-scoped advisory lock, so block commits from several processes serialise and read
the head inside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError

SEQUENCER_LOCK_ID = 0x5EA1C4A1  # pg_advisory_xact_lock key shared by every Sealchain writer
STANDBY_CONNECT_TIMEOUT = 3  # seconds; libpq waits for the TCP connect forever by default


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, echo: bool = False, read_only: bool = False) -> Engine:
    """Create an engine with Sealchain's connection settings for its dialect.

    `read_only` (a standby's engine): the database itself refuses any write on its
    connections, so a read engine pointed by mistake at a primary still never writes to it;
    and a PostgreSQL standby that does not answer is given up on after a few seconds, as the
    reads it serves can go to the primary instead (LedgerNode.read_with_fallback).
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": 60, "check_same_thread": False},
            # one pooled connection per request thread (anyio runs up to 40): opening SQLite
            # connections per request would cost more than the queries
            pool_size=40,
            max_overflow=8,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        if read_only:
            event.listen(engine, "connect", _sqlite_query_only)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if read_only:
        connect_args = {
            "options": "-c default_transaction_read_only=on",
            "connect_timeout": STANDBY_CONNECT_TIMEOUT,
        }
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args=connect_args,
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see module docstring)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    # No memory map: every page a mapped connection touched stayed in the server's resident
    # memory (339 MB at 10^6 entries after 2,000 proofs, against 160 MB without), and with the
    # upper tree levels cached (service/node_cache.py) proofs took the same time either way
    # (docs/benchmarks.md, "Proofs at 10^6"). 0 is also SQLite's own default.
    cursor.execute("PRAGMA mmap_size=0")
    cursor.close()


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get("sealchain_write") else "DEFERRED"
    # On the sqlite3 connection itself: through exec_driver_sql, this BEGIN cost as much as the
    # rest of an empty transaction (26 against 16 µs in all), and every request begins one.
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None, "a connection that begins a transaction is checked out"
    statement = f"BEGIN {mode}"
    try:
        dbapi.execute(statement)
    except sqlite3.Error as e:
        # SQLAlchemy wraps the driver's errors only in what it runs itself: wrapped here as
        # exec_driver_sql did, a busy database is still an OperationalError to every caller
        # that catches SQLAlchemy's errors (the CLI's exit codes, the scan-count flush).
        raise DBAPIError.instance(statement, (), e, sqlite3.Error) from e


def _take_write_lock(conn: Connection) -> None:
    # SQLite took it with BEGIN IMMEDIATE (_sqlite_on_begin); PostgreSQL needs the advisory lock.
    if not is_sqlite(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEQUENCER_LOCK_ID})


_held = threading.local()  # .paths: the writers' locks this thread holds
TURN_SECONDS = 60.0  # as busy_timeout: then the writer goes on to SQLite's own wait
_open_turns: set[int] = set()  # descriptors of the writers' lock files this process holds
_open_turns_lock = threading.Lock()


def _forget_turns() -> None:
    """In a forked child (the audit's workers): the lock belongs to the open file, which the
    child shares until it closes its copy, so a child could hold its parent's turn for life."""
    global _open_turns_lock
    _open_turns_lock = threading.Lock()  # another thread may have held it at the fork
    for descriptor in _open_turns:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    _open_turns.clear()


os.register_at_fork(after_in_child=_forget_turns)


def _writers_lock_path(engine: Engine) -> str | None:
    """The file SQLite writers of this database take turns on; None for PostgreSQL and for a
    database in memory (one connection: nobody to take turns with)."""
    url = engine.url
    if not is_sqlite(engine) or url.database in (None, "", ":memory:"):
        return None
    if url.query.get("mode") == "memory":
        return None
    return f"{url.database}-writers"


def _wait_for_turn(descriptor: int) -> bool:
    """Take the lock, trying again at most 1 ms after it is let go; False after TURN_SECONDS
    (a writer stuck, or a process that inherited the lock): the caller then goes on to
    SQLite's busy handler, which answers "database is locked" if the database stays so."""
    deadline = time.monotonic() + TURN_SECONDS
    pause = 0.0001
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.001)


@contextmanager
def _writers_turn(engine: Engine) -> Iterator[None]:
    """Wait for the other writers of an SQLite database on a lock file, not in SQLite's busy
    handler (module docstring). A file of its own per call, so that threads of one process
    take turns too (a lock is held per open file). Where the file cannot be made (a read-only
    directory), SQLite's busy handler alone serialises the writers, as it always did."""
    path = _writers_lock_path(engine)
    if path is not None and path in _held.__dict__.setdefault("paths", set()):
        # SQLite would have answered "database is locked" after its busy timeout, having
        # waited for this very thread.
        raise RuntimeError("a write transaction inside another on the same database")
    descriptor = None
    if path is not None:
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            descriptor = None
    if descriptor is not None and not _wait_for_turn(descriptor):
        os.close(descriptor)
        descriptor = None
    if descriptor is not None:
        with _open_turns_lock:
            _open_turns.add(descriptor)
        _held.paths.add(path)
    try:
        yield
    finally:
        if descriptor is not None:
            _held.paths.discard(path)
            with _open_turns_lock:
                _open_turns.discard(descriptor)
            os.close(descriptor)  # lets the lock go


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One serialised write transaction: commits on success, rolls back on any exception."""
    with (
        _writers_turn(engine),
        engine.connect().execution_options(sealchain_write=True) as conn,
        conn.begin(),
    ):
        _take_write_lock(conn)
        yield conn


@contextmanager
def rolled_back_transaction(engine: Engine) -> Iterator[Connection]:
    """The write lock and a transaction that is always rolled back: for working out what a
    change would write (a replay of the entries, to compare with what is stored), keeping
    nothing. Blocks commit meanwhile wait, as for any write transaction."""
    with _writers_turn(engine), engine.connect().execution_options(sealchain_write=True) as conn:
        transaction = conn.begin()
        try:
            _take_write_lock(conn)
            yield conn
        finally:
            transaction.rollback()


_kept = threading.local()  # .connections: engine -> the connection this thread keeps for reads


@contextmanager
def kept_read_connections() -> Iterator[None]:
    """Within it, `read_transaction` on an SQLite engine reuses one connection per engine on
    this thread, kept between transactions, and closes them at the end: for threads that do
    nothing but reads, one after another (BatchedWorker.for_reads).

    Taking a pooled connection and giving it back was a fifth of a scan's read (py-spy), and
    the pool hands its idle connections out in turn, each with its own page cache (2 MiB):
    a kept connection's cache holds what this thread read last. Not for PostgreSQL, whose
    pool is small (a connection kept per reading thread would leave few for the rest), and
    whose reads are bound by their round trips. Between transactions a kept connection holds
    no snapshot and no lock, so WAL checkpoints and writers are not held up by it."""
    previous = getattr(_kept, "connections", None)
    _kept.connections = {}
    try:
        yield
    finally:
        connections, _kept.connections = _kept.connections, previous
        for conn in connections.values():
            with contextlib.suppress(DBAPIError):
                conn.close()


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A read-only snapshot (one transaction); never takes the write lock."""
    kept: dict[Engine, Connection] | None = getattr(_kept, "connections", None)
    held = None
    if kept is not None and is_sqlite(engine):
        held = kept.get(engine)
        if held is None:
            held = kept[engine] = engine.connect()
    # Not kept, or a read inside a read (which keeps the kept connection): a pooled one.
    if kept is None or held is None or held.in_transaction():
        with engine.connect() as conn, conn.begin():
            yield conn
        return
    try:
        with held.begin():
            yield held
    except DBAPIError:
        # The next read gets a new connection, as the pool would have given it after a
        # failure (a database file replaced, a disk error): this one may be unusable.
        del kept[engine]
        with contextlib.suppress(DBAPIError):
            held.close()
        raise
