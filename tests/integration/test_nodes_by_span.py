"""Merkle nodes are stored by (span, level, idx) (ledger/storage/tables.py, migration 0002): a
database of the first schema keeps every node through the migration and back, proofs and range
reads find the same hashes after it, and a node stored under another span is refused. On
SQLite and PostgreSQL."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from ledger.core import merkle
from ledger.core.block import GENESIS_PREV, BlockHeader
from ledger.core.envelope import format_ts
from ledger.service.audit import _UPPER_NODES
from ledger.service.proofs import inclusion_proof
from ledger.storage.engine import is_sqlite, make_engine, read_transaction, write_transaction
from ledger.storage.migrate import MIGRATIONS, current_revision
from ledger.storage.repository import (
    Repository,
    _driver_sql,
    _nodes_query,
    _upper_levels_query,
)
from ledger.storage.tables import SPAN_LEVELS, node_span

SIZE = 300  # levels 0 to 8: spans of 32 leaves below level 5, the upper levels above


@pytest.fixture
def engine(tmp_path: Path, db_url: str | None) -> Iterator[Engine]:
    made = make_engine(db_url or f"sqlite:///{tmp_path / 'ledger.db'}")
    yield made
    made.dispose()


def _alembic(engine: Engine, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with write_transaction(engine) as conn:
        config.attributes["connection"] = conn
        getattr(command, action)(config, revision)


def _tree() -> tuple[dict[merkle.Coord, bytes], bytes]:
    rng = random.Random(SIZE)
    compact = merkle.CompactRange()
    stored: dict[merkle.Coord, bytes] = {}
    for _ in range(SIZE):
        for level, index, digest in compact.append(rng.randbytes(32)):
            stored[(level, index)] = digest
    return stored, compact.root()


def _rows(engine: Engine, columns: str) -> set[tuple[int | bytes, ...]]:
    with read_transaction(engine) as conn:
        found = conn.execute(text(f"SELECT {columns} FROM nodes")).all()
    return {tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in found}


def test_nodes_of_the_first_schema_survive_the_migration_and_back(engine: Engine) -> None:
    stored, root = _tree()
    _alembic(engine, "upgrade", "0001")
    with write_transaction(engine) as conn:
        conn.execute(
            text("INSERT INTO nodes (level, idx, hash) VALUES (:level, :idx, :hash)"),
            [{"level": lv, "idx": i, "hash": h} for (lv, i), h in stored.items()],
        )
        now = format_ts(datetime.now(UTC))
        Repository(conn).insert_block(BlockHeader(0, GENESIS_PREV, now, 0, SIZE, SIZE, root))

    _alembic(engine, "upgrade", "head")
    assert current_revision(engine) == "0002"
    assert _rows(engine, "span, level, idx, hash") == {
        (node_span(lv, i), lv, i, h) for (lv, i), h in stored.items()
    }
    with read_transaction(engine) as conn:
        for index in range(SIZE):
            proof = inclusion_proof(conn, index, SIZE)
            merkle.verify_inclusion(index, SIZE, stored[(0, index)], proof, root)
        assert Repository(conn).get_nodes(stored) == stored
        upper = [(5, 0, 9), (6, 1, 4), (8, 0, 1)]
        assert Repository(conn).upper_levels(upper) == [
            (lv, i, stored[(lv, i)]) for lv, first, end in upper for i in range(first, end)
        ]
        with pytest.raises(ValueError, match="stored by span"):
            Repository(conn).upper_levels([(4, 0, 2)])

    _alembic(engine, "downgrade", "0001")
    assert _rows(engine, "level, idx, hash") == {(lv, i, h) for (lv, i), h in stored.items()}


def test_a_node_under_another_span_is_refused(engine: Engine) -> None:
    _alembic(engine, "upgrade", "head")
    digest = bytes(range(32))
    with write_transaction(engine) as conn:
        Repository(conn).insert_nodes([(0, 40, digest), (6, 1, digest)])
    insert = "INSERT INTO nodes (span, level, idx, hash) VALUES (:span, :level, :idx, :hash)"
    for level, index in [(0, 41), (3, 9), (SPAN_LEVELS, 0)]:
        values = {"span": node_span(level, index) + 1, "level": level, "idx": index, "hash": digest}
        with pytest.raises(IntegrityError), write_transaction(engine) as conn:
            conn.execute(text(insert), values)
    assert _rows(engine, "span, level, idx, hash") == {(1, 0, 40, digest), (-1, 6, 1, digest)}


def test_nodes_far_out_in_a_large_tree_are_found(engine: Engine) -> None:
    """Past 2^31 leaves idx << level needs 64 bits: PostgreSQL shifted a small bound idx as a
    32-bit integer until the span expression cast it."""
    _alembic(engine, "upgrade", "head")
    far = [(4, (1 << 28) + 3), (3, 1 << 29), (0, (1 << 33) + 1), (SPAN_LEVELS, 1 << 40), (40, 1)]
    stored = {coord: bytes([n]) * 32 for n, coord in enumerate(far)}
    with write_transaction(engine) as conn:
        Repository(conn).insert_nodes([(lv, i, h) for (lv, i), h in stored.items()])
    with read_transaction(engine) as conn:
        assert Repository(conn).get_nodes(far) == stored
        for coord in far:  # alone, so that no larger idx in the statement widens the column
            assert Repository(conn).get_nodes([coord]) == {coord: stored[coord]}
        assert Repository(conn).upper_levels(
            [(40, 0, 2), (SPAN_LEVELS, 1 << 40, 1 + (1 << 40))]
        ) == [
            (SPAN_LEVELS, 1 << 40, stored[(SPAN_LEVELS, 1 << 40)]),
            (40, 1, stored[(40, 1)]),
        ]


def _plan(conn: Connection, sql: str, params: dict[str, int] | tuple[int, ...]) -> str:
    if is_sqlite(conn):
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
        return "\n".join(str(row[-1]) for row in rows)
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # the tables here are tiny
    if isinstance(params, tuple):
        sql = sql.replace("?", "%s")
    return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql, params).all())


def test_node_reads_search_the_whole_key(engine: Engine) -> None:
    """A range on span would leave level and idx to a scan of every node under it (at 10^6
    entries, 2.5 ms a read of an upper level against 9 µs): the reads of single nodes and of
    upper levels bind span by equality and search (span, level, idx) in the primary key."""
    _alembic(engine, "upgrade", "head")
    whole_key = {
        "get_nodes": (_nodes_query(2), {"l0": 0, "i0": 1, "l1": 7, "i1": 2}),
        "upper_levels": (_upper_levels_query(1), {"l0": 6, "a0": 0, "b0": 4}),
    }
    with write_transaction(engine) as conn:
        for name, (query, params) in whole_key.items():
            sql, order = _driver_sql(conn.dialect, query)
            bound = params if order is None else tuple(params[n] for n in order)
            plan = _plan(conn, sql, bound)
            if is_sqlite(conn):
                assert "USING PRIMARY KEY (span=? AND level=? AND idx" in plan, (name, plan)
            else:
                assert re.search(r"Index Cond: \(\(span = .*\(level = .*\(idx [=<>]", plan), (
                    name,
                    plan,
                )
        plan = _plan(conn, _UPPER_NODES, (6, 0, 3))
        if is_sqlite(conn):
            assert "USING PRIMARY KEY (span=? AND level=? AND idx>? AND idx<?)" in plan, plan
        else:
            assert re.search(r"Index Cond: \(\(span = .*\(level = .*\(idx >=", plan), plan
