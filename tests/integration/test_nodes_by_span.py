"""Merkle nodes are stored by (span, level, idx) (ledger/storage/tables.py, migration 0002): a
database of the first schema keeps every node through the migration and back, proofs and range
reads find the same hashes after it, and a node stored under another span is refused. On
SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from ledger.core import merkle
from ledger.core.block import GENESIS_PREV, BlockHeader
from ledger.core.envelope import format_ts
from ledger.service.proofs import inclusion_proof
from ledger.storage.engine import make_engine, read_transaction, write_transaction
from ledger.storage.migrate import MIGRATIONS, current_revision
from ledger.storage.repository import Repository
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
        # Ranges that cross spans, start and end inside one, and one at the upper levels.
        ranges = [(0, 17, 70), (2, 3, 40), (4, 1, 18), (6, 0, 4), (8, 0, 1)]
        assert Repository(conn).node_levels(ranges) == [
            (lv, i, stored[(lv, i)]) for lv, first, end in ranges for i in range(first, end)
        ]

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
