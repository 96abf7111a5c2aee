"""SQLite writers take turns in the kernel (an flock on `<database>-writers`) before BEGIN
IMMEDIATE, so a waiting writer starts the moment the lock is let go instead of after one of
SQLite's busy-handler sleeps: every writer of the file waits, in this process or another."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from ledger.storage import engine as engine_module
from ledger.storage.engine import _writers_lock_path, make_engine, write_transaction


def test_a_writer_waits_for_the_holder_of_the_writers_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    path = _writers_lock_path(engine)
    assert path == f"{tmp_path / 'ledger.db'}-writers"
    holder = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # as another process would
    fcntl.flock(holder, fcntl.LOCK_EX)
    entered = threading.Event()

    def write() -> None:
        with write_transaction(engine) as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            entered.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert not entered.wait(0.5)  # held off by the lock, not by SQLite (nobody holds that)
    os.close(holder)
    assert entered.wait(10)
    writer.join()
    engine.dispose()


def test_no_lock_file_for_a_database_in_memory_or_postgres() -> None:
    assert _writers_lock_path(create_engine("sqlite://")) is None
    assert _writers_lock_path(create_engine("sqlite:///:memory:")) is None
    assert _writers_lock_path(create_engine("postgresql+psycopg://u@h/db")) is None


def test_without_a_lock_file_the_turns_are_sqlites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A directory the server may not write to: the lock file cannot be made, and writes go on
    # with SQLite's busy handler alone, as before there was a lock file.
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    real_open = os.open

    def refuse_lock_file(path: str, *args: int) -> int:
        if str(path).endswith("-writers"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args)

    monkeypatch.setattr(os, "open", refuse_lock_file)
    with write_transaction(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    assert not (tmp_path / "ledger.db-writers").exists()
    engine.dispose()


def test_a_write_inside_a_write_is_refused_not_left_waiting(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    with (
        write_transaction(engine),
        pytest.raises(RuntimeError, match="inside another"),
        write_transaction(engine),
    ):
        pass
    with write_transaction(engine) as conn:  # and the lock was let go
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    engine.dispose()


def test_a_forked_child_does_not_keep_its_parents_turn(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    with write_transaction(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        child = os.fork()
        if child == 0:  # holds a copy of every open file for a while, as a pool worker does
            time.sleep(3)
            os._exit(0)
    try:
        done = threading.Event()

        def write() -> None:
            with write_transaction(engine) as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            done.set()

        threading.Thread(target=write).start()
        assert done.wait(1.5)  # long before the child exits
    finally:
        os.waitpid(child, 0)
        engine.dispose()


def test_after_its_time_a_writer_goes_on_to_sqlites_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lock file held for good (a stuck process): the writer stops waiting for it, and
    # SQLite's own lock, free here, lets it write.
    monkeypatch.setattr(engine_module, "TURN_SECONDS", 0.2)
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    holder = os.open(f"{tmp_path / 'ledger.db'}-writers", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        with write_transaction(engine) as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        assert 0.2 <= time.monotonic() - started < 5
    finally:
        os.close(holder)
        engine.dispose()
