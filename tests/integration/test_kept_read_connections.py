"""kept_read_connections (ledger/storage/engine.py): a reading thread keeps one SQLite connection
per engine between read transactions, sees every commit made meanwhile, never nests on it, gets
a new one after a database error and closes them at the end; PostgreSQL reads use the pool."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import OperationalError

from ledger.api.batched_worker import BatchedWorker
from ledger.storage.engine import (
    kept_read_connections,
    make_engine,
    read_transaction,
    write_transaction,
)

META = MetaData()
COUNTS = Table("counts", META, Column("n", Integer, primary_key=True))


@pytest.fixture
def engine(tmp_path: Path, db_url: str | None) -> Iterator[Engine]:
    made = make_engine(db_url or f"sqlite:///{tmp_path / 'counts.db'}")
    META.create_all(made)
    yield made
    with write_transaction(made) as conn:
        META.drop_all(conn)
    made.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'counts.db'}")
    META.create_all(made)
    yield made
    made.dispose()


def _count(engine: Engine) -> tuple[int, Connection]:
    """(rows, the connection that read them)."""
    with read_transaction(engine) as conn:
        return conn.execute(select(func.count()).select_from(COUNTS)).scalar_one(), conn


def _add(engine: Engine, n: int) -> None:
    with write_transaction(engine) as conn:
        conn.execute(insert(COUNTS), {"n": n})


def test_one_connection_is_kept_and_sees_each_commit(engine: Engine) -> None:
    sqlite = engine.dialect.name == "sqlite"
    with kept_read_connections():
        seen, kept = _count(engine)
        assert seen == 0
        for n in range(1, 4):
            _add(engine, n)  # on another connection, between two reads
            rows, reader = _count(engine)
            assert rows == n  # each read is a new snapshot, not the kept one's first
            assert (reader is kept) is sqlite
        # Between its transactions a kept connection holds no snapshot and no lock.
        assert engine.pool.checkedout() == (1 if sqlite else 0)  # type: ignore[attr-defined]
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_without_it_reads_give_their_connection_back(engine: Engine) -> None:
    _count(engine)
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_read_inside_a_read_gets_a_connection_of_its_own(engine: Engine) -> None:
    _add(engine, 1)
    with kept_read_connections(), read_transaction(engine) as outer:
        rows, inner = _count(engine)
        assert rows == 1
        assert inner is not outer
        assert outer.execute(select(func.count()).select_from(COUNTS)).scalar_one() == 1


def test_after_a_database_error_the_next_read_gets_a_new_connection(
    sqlite_engine: Engine,
) -> None:
    engine = sqlite_engine  # PostgreSQL's reads are not kept
    with kept_read_connections():
        _, first = _count(engine)
        with pytest.raises(OperationalError), read_transaction(engine) as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        rows, second = _count(engine)
        assert rows == 0
        assert second is not first
        # Any other exception leaves the connection kept.
        with pytest.raises(ValueError, match="database"), read_transaction(engine):
            raise ValueError("not the database's")
        assert _count(engine)[1] is second


def test_a_read_workers_threads_keep_theirs_and_close_them_with_it(engine: Engine) -> None:
    readers = BatchedWorker.for_reads("t", engine.dialect.name)
    plain = BatchedWorker("p")
    sqlite = engine.dialect.name == "sqlite"

    async def reads(worker: BatchedWorker) -> set[int]:
        return {id((await worker.run(_count, engine))[1]) for _ in range(20)}

    try:
        connections = asyncio.run(reads(readers))
        kept = len(readers._threads) if sqlite else 0
        if sqlite:  # each thread read on its one kept connection
            assert len(connections) == kept == 1
        assert engine.pool.checkedout() == kept  # type: ignore[attr-defined]
        asyncio.run(reads(plain))  # a worker that may write keeps none
        assert engine.pool.checkedout() == kept  # type: ignore[attr-defined]
    finally:
        readers.close()
        plain.close()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
