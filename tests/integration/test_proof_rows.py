"""An inclusion proof at 2^16 + 3 entries reads O(log n) rows in a constant number of
statements (DESIGN 3.4): counted, on SQLite and PostgreSQL, and every proof verified."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event

from ledger.core import merkle
from ledger.core.block import GENESIS_PREV, BlockHeader
from ledger.core.envelope import format_ts
from ledger.service.pipeline import utc_now
from ledger.service.proofs import consistency_proof, inclusion_proof
from ledger.storage.engine import make_engine, read_transaction, write_transaction
from ledger.storage.migrate import migrate
from ledger.storage.repository import Repository
from ledger.storage.tables import nodes
from tests.conftest import create_pg_database, drop_pg_database

SIZE = 2**16 + 3


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def big_tree(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, dict[merkle.Coord, bytes], bytes]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('tree') / 'tree.db'}"
    else:
        url = create_pg_database()
    engine = make_engine(url)
    migrate(engine)
    tree = merkle.CompactRange()
    stored: dict[merkle.Coord, bytes] = {}
    for _ in range(SIZE):
        for level, index, digest in tree.append(os.urandom(32)):
            stored[(level, index)] = digest
    rows = [{"level": lv, "idx": i, "hash": h} for (lv, i), h in stored.items()]
    with write_transaction(engine) as conn:
        for start in range(0, len(rows), 20_000):
            conn.execute(nodes.insert(), rows[start : start + 20_000])
        header = BlockHeader(0, GENESIS_PREV, format_ts(utc_now()), 0, SIZE, SIZE, tree.root())
        Repository(conn).insert_block(header)
    yield engine, stored, tree.root()
    engine.dispose()
    if request.param == "postgres":
        drop_pg_database(url)


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.statements: list[str] = []
        self.rows = 0
        self.engine = engine

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)

    def _before(self, _conn, _cursor, statement, _params, _context, _many) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SELECT PG_", "COMMIT", "ROLLBACK")):
            self.statements.append(statement)


@pytest.mark.parametrize("index", [0, 1, 2**15, 2**16 - 1, 2**16, 2**16 + 1, SIZE - 1])
def test_inclusion_proof_reads_log_n_rows_in_constant_statements(big_tree, index: int) -> None:
    engine, stored, root = big_tree
    with read_transaction(engine) as conn:
        with StatementCounter(engine) as counter:
            proof = inclusion_proof(conn, index, SIZE)
        needed = merkle.inclusion_nodes(index, SIZE)
    bound = 2 * math.ceil(math.log2(SIZE)) + 2
    assert len(needed) <= bound  # O(log n) node rows
    assert len(counter.statements) <= 2, counter.statements  # the head, then one node read
    assert proof == merkle.inclusion_proof(index, SIZE, stored)
    merkle.verify_inclusion(index, SIZE, stored[(0, index)], proof, root)


@pytest.mark.parametrize("first", [1, 2**15 + 7, 2**16, SIZE - 1])
def test_consistency_proof_is_constant_statements(big_tree, first: int) -> None:
    engine, stored, root = big_tree
    with read_transaction(engine) as conn, StatementCounter(engine) as counter:
        proof = consistency_proof(conn, first, SIZE)
    assert len(counter.statements) <= 2, counter.statements
    old_root = merkle.root_from_nodes(first, stored)
    merkle.verify_consistency(first, SIZE, proof, old_root, root)
