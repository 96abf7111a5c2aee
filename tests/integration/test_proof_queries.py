"""An inclusion proof at 2^16 + 3 entries reads O(log n) rows (docs/architecture.md §2): the SQL
statements are counted, the rows they return are counted, and the database's own plan shows that
it looks the nodes up by primary key instead of scanning the table. On SQLite and PostgreSQL.

The storage is built directly (no envelopes are signed): the nodes of 65,539 random leaves, as
`CompactRange.append` returns them, and one block whose header gives the tree size. Every proof
is checked against the one computed in memory and verified against the roots.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event

from ledger.core import merkle
from ledger.core.block import GENESIS_PREV, BlockHeader
from ledger.core.envelope import format_ts
from ledger.errors import ProofError
from ledger.service.proofs import consistency_proof, inclusion_proof
from ledger.storage.engine import is_sqlite, make_engine, read_transaction, write_transaction
from ledger.storage.migrate import migrate
from ledger.storage.repository import Repository
from tests.conftest import create_pg_database, drop_pg_database

N = 2**16 + 3
LOG_N = math.ceil(math.log2(N))
NODE_BOUND = 2 * LOG_N + 2  # nodes a proof may read
STATEMENT_BOUND = 3  # the head lookup and the node read, with room for one more
CHUNK = 10_000
INDEXES = [0, 1, 2, 2**15, N // 2, 2**16 - 1, 2**16, 2**16 + 1, N - 2, N - 1]
OLD_SIZES = [1, 2, 3, 1000, 2**15, 2**16 - 1, 2**16, 2**16 + 1, N - 1, N]


@dataclass
class Tree:
    engine: Engine
    stored: dict[merkle.Coord, bytes]  # every node, as written
    leaves: list[bytes]
    roots: dict[int, bytes]  # root at each of OLD_SIZES, from the compact range while appending


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def tree(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tree]:
    if request.param == "sqlite":
        url = f"sqlite:///{Path(tmp_path_factory.mktemp('proof-queries')) / 'tree.db'}"
    else:
        url = create_pg_database()
    engine = make_engine(url)
    try:
        migrate(engine)
        rng = random.Random(N)
        compact = merkle.CompactRange()
        stored: dict[merkle.Coord, bytes] = {}
        leaves: list[bytes] = []
        roots: dict[int, bytes] = {}
        for _ in range(N):
            leaf = rng.randbytes(32)
            leaves.append(leaf)
            for level, index, digest in compact.append(leaf):
                stored[(level, index)] = digest
            if compact.size in OLD_SIZES:
                roots[compact.size] = compact.root()
        assert len(stored) == sum(N >> level for level in range(N.bit_length()))
        rows = [(lv, i, h) for (lv, i), h in stored.items()]
        with write_transaction(engine) as conn:
            for start in range(0, len(rows), CHUNK):
                Repository(conn).insert_nodes(rows[start : start + CHUNK])
            now = format_ts(datetime.now(UTC))
            Repository(conn).insert_block(BlockHeader(0, GENESIS_PREV, now, 0, N, N, roots[N]))
        with read_transaction(engine) as conn:
            assert Repository(conn).tree_size() == N
            assert Repository(conn).count_nodes() == len(stored)
        yield Tree(engine, stored, leaves, roots)
    finally:
        engine.dispose()
        if request.param == "postgres":
            drop_pg_database(url)


@dataclass
class Statements:
    """Every statement the engine sends while active, with its parameters."""

    engine: Engine
    seen: list[tuple[str, Any]] = field(default_factory=list)

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, parameters, _context, _many) -> None:
        self.seen.append((statement, parameters))

    def on_nodes(self) -> list[tuple[str, Any]]:
        return [(s, p) for s, p in self.seen if re.search(r"\b(FROM|JOIN) nodes\b", s)]


def rows_returned(conn: Connection, seen: list[tuple[str, Any]]) -> int:
    """Run the recorded statements again and count the rows they return."""
    return sum(len(conn.exec_driver_sql(s, p).fetchall()) for s, p in seen)


def rows_examined(conn: Connection, statement: str, parameters: Any) -> int:
    """Rows of `nodes` the database touches for `statement`, from its plan.

    SQLite: every access to nodes must be a primary-key SEARCH (a SCAN reads the whole table),
    so it examines at most the rows it returns. PostgreSQL: EXPLAIN ANALYZE's actual rows plus
    those removed by filters, summed over every plan node that reads the table.
    """
    if is_sqlite(conn):
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
        details = [row[-1] for row in plan]
        on_nodes = [d for d in details if " nodes" in f" {d}"]
        assert on_nodes, details
        for detail in on_nodes:
            assert detail.startswith("SEARCH") and "PRIMARY KEY" in detail, details
        return len(conn.exec_driver_sql(statement, parameters).fetchall())
    plan_json = conn.exec_driver_sql(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
    ).scalar_one()
    plan = plan_json if isinstance(plan_json, list) else json.loads(plan_json)

    def walk(node: dict[str, Any]) -> int:
        touched = 0
        if node.get("Relation Name") == "nodes":
            assert node["Node Type"] != "Seq Scan", node
            touched += int(node["Actual Rows"]) * int(node["Actual Loops"])
            touched += int(node.get("Rows Removed by Filter", 0))
            touched += int(node.get("Rows Removed by Index Recheck", 0))
        return touched + sum(walk(child) for child in node.get("Plans", []))

    return walk(plan[0]["Plan"])


def check_reads(conn: Connection, seen: Statements, needed: int) -> None:
    """A constant number of statements, one read of `nodes`, O(log n) rows returned and read."""
    statements = [s for s, _ in seen.seen]
    assert len(statements) <= STATEMENT_BOUND, statements
    on_nodes = seen.on_nodes()
    assert len(on_nodes) == (1 if needed else 0), statements
    assert needed <= NODE_BOUND
    returned = rows_returned(conn, on_nodes)
    assert needed <= returned <= NODE_BOUND, (needed, returned)
    examined = sum(rows_examined(conn, s, p) for s, p in on_nodes)
    assert examined <= NODE_BOUND, (examined, statements)
    selects = [(s, p) for s, p in seen.seen if s.lstrip().upper().startswith("SELECT")]
    assert rows_returned(conn, selects) <= NODE_BOUND + 1  # the nodes and the head's one row


@pytest.mark.parametrize("index", INDEXES)
def test_inclusion_proof_reads_log_n_rows(tree: Tree, index: int) -> None:
    with read_transaction(tree.engine) as conn:
        with Statements(tree.engine) as seen:
            proof = inclusion_proof(conn, index, N)
        check_reads(conn, seen, len(set(merkle.inclusion_nodes(index, N))))
    assert proof == merkle.inclusion_proof(index, N, tree.stored)
    assert len(proof) <= LOG_N
    merkle.verify_inclusion(index, N, tree.leaves[index], proof, tree.roots[N])


@pytest.mark.parametrize("old_size", OLD_SIZES)
def test_consistency_proof_reads_log_n_rows(tree: Tree, old_size: int) -> None:
    with read_transaction(tree.engine) as conn:
        with Statements(tree.engine) as seen:
            proof = consistency_proof(conn, old_size, N)
        check_reads(conn, seen, len(set(merkle.consistency_nodes(old_size, N))))
    assert proof == merkle.consistency_proof(old_size, N, tree.stored)
    merkle.verify_consistency(old_size, N, proof, tree.roots[old_size], tree.roots[N])


def test_a_wrong_stored_node_gives_a_proof_that_fails(tree: Tree) -> None:
    """The proofs above verify because storage is right, not because verification is lax."""
    index = N // 2
    coords = merkle.inclusion_nodes(index, N)
    bad = dict(tree.stored)
    bad[coords[-1]] = bytes(32)
    proof = merkle.inclusion_proof(index, N, bad)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(index, N, tree.leaves[index], proof, tree.roots[N])
