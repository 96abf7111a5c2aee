"""The node cache (ledger.service.node_cache) never changes a proof: proofs served through it
equal the ones computed from every node in memory and verify against the roots, while the tree
grows across many sizes, is rewritten under it, or a block is rolled back. On SQLite and
PostgreSQL.

The storage is built directly, as a sequencer would write it (nodes, block header, checkpoint
per block), from leaves derived from a seed: a second tree with another seed at the same
positions is a rewritten history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, delete

from ledger.core import merkle
from ledger.core.block import GENESIS_PREV, BlockHeader
from ledger.core.envelope import format_ts
from ledger.service import node_cache
from ledger.service.node_cache import cache_for
from ledger.service.proofs import consistency_proof, inclusion_proof, inclusion_proofs
from ledger.service.rewrite import rewrite_entry
from ledger.storage.engine import is_sqlite, make_engine, read_transaction, write_transaction
from ledger.storage.migrate import migrate
from ledger.storage.repository import Repository
from ledger.storage.tables import blocks, checkpoints, nodes
from tests.conftest import create_pg_database, drop_pg_database
from tests.support.ledgers import LedgerFixture


def leaf(seed: int, index: int) -> bytes:
    return hashlib.sha256(f"{seed}/{index}".encode()).digest()


class Log:
    """A tree written block by block as the sequencer writes it, and the same in memory."""

    def __init__(self, engine: Engine, seed: int) -> None:
        self.engine = engine
        self.seed = seed
        self.tree = merkle.CompactRange()
        self.stored: dict[merkle.Coord, bytes] = {}
        self.height = -1
        self.prev = GENESIS_PREV
        self.notes: dict[int, str] = {}

    @property
    def size(self) -> int:
        return self.tree.size

    def append(
        self,
        count: int,
        conn: Connection | None = None,
        *,
        store: bool = True,
        note: str | None = None,
    ) -> None:
        """A block of `count` leaves; in `conn`'s transaction if given, else committed (with
        `store` False: in memory only)."""
        rows = []
        first = self.size
        for _ in range(count):
            for level, index, digest in self.tree.append(leaf(self.seed, self.size)):
                rows.append((level, index, digest))
                self.stored[(level, index)] = digest
        self.height += 1
        header = BlockHeader(
            self.height, self.prev, format_ts(datetime.now(UTC)), first, count, self.size,
            self.tree.root(),
        )  # fmt: skip
        self.prev = header.hash_hex()
        note = note or f"test-log\n{self.size}\n{self.tree.root().hex()}\n"
        self.notes[self.size] = note
        if not store:
            return
        if conn is None:
            with write_transaction(self.engine) as own:
                self._write(own, rows, header, note)
        else:
            self._write(conn, rows, header, note)

    def _write(self, conn: Connection, rows: list, header: BlockHeader, note: str) -> None:
        repo = Repository(conn)
        repo.insert_nodes(rows)
        repo.insert_block(header)
        repo.insert_checkpoint(header.size, header.height, note)

    def root(self, size: int) -> bytes:
        found = {c: self.stored[c] for c in merkle.root_nodes(size)}
        return merkle.CompactRange.from_nodes(size, found).root()

    def check_proofs(self, queries: list[tuple[int, int]]) -> None:
        """Inclusion and consistency proofs through the cache, against the ones from memory."""
        with read_transaction(self.engine) as conn:
            for a, b in queries:
                size = 1 + b % self.size
                index = a % size
                proof = inclusion_proof(conn, index, size)
                assert proof == merkle.inclusion_proof(index, size, self.stored)
                merkle.verify_inclusion(index, size, leaf(self.seed, index), proof, self.root(size))
                old = a % (size + 1)
                consistency = consistency_proof(conn, old, size)
                assert consistency == merkle.consistency_proof(old, size, self.stored)
                if old:
                    merkle.verify_consistency(
                        old, size, consistency, self.root(old), self.root(size)
                    )
            size = self.size
            wanted = sorted({a % size for a, _ in queries})
            assert inclusion_proofs(conn, wanted, size) == merkle.inclusion_proofs(
                wanted, size, self.stored
            )


def wipe(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        for table in (checkpoints, blocks, nodes):
            conn.execute(delete(table))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{Path(tmp_path_factory.mktemp('node-cache')) / 'tree.db'}"
    else:
        url = create_pg_database()
    built = make_engine(url)
    try:
        migrate(built)
        yield built
    finally:
        built.dispose()
        if request.param == "postgres":
            drop_pg_database(url)


@pytest.fixture
def small_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache of at most 2^6 nodes: trees of more than 2^10 entries move its lowest level up
    from MIN_LEVEL (the lowest upper level of the storage, which reads no lower ones)."""
    monkeypatch.setattr(node_cache, "MAX_NODES_LOG", 6)


blocks_strategy = st.lists(st.integers(1, 300), min_size=1, max_size=8)
queries_strategy = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), max_size=6)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2), growth=blocks_strategy, queries=queries_strategy)
def test_cached_proofs_equal_uncached_while_the_tree_grows_and_is_rewritten(
    engine: Engine, small_cache: None, seed: int, growth: list[int], queries: list[tuple[int, int]]
) -> None:
    """Every example rewrites the whole table under the same engine (another seed, the same
    positions), so the cache must notice a rewritten history as well as growth."""
    wipe(engine)
    log = Log(engine, seed)
    for count in growth:
        log.append(count)
        log.check_proofs([*queries, (log.size - 1, log.size - 1), (0, 0)])
    assert cache_for(engine).cached_nodes() <= 1 << node_cache.MAX_NODES_LOG


def test_nodes_of_a_rolled_back_block_never_reach_the_cache(engine: Engine) -> None:
    """A block written and proved from inside its own transaction, then rolled back (what a
    witness replica does when the root is not the log's), leaves nothing behind: the honest
    block written next at the same positions is proved right. The forged block carries the
    honest block's checkpoint note, so only keeping write transactions away from the cache (not
    the check of the anchor's note) can stop its nodes."""
    wipe(engine)
    honest = Log(engine, seed=1)
    honest.append(700)
    honest.check_proofs([(5, 699), (600, 650)])  # warm: levels anchored at 700
    forged = Log(engine, seed=1)
    forged.append(700, store=False)  # the same tree, then a different block on top
    forged.seed = 99
    future = Log(engine, seed=1)
    future.append(700, store=False)
    future.append(900, store=False)
    rolled_back = False
    try:
        with write_transaction(engine) as conn:
            forged.append(900, conn, note=future.notes[1600])
            # proofs inside the block's own transaction see its rows: they must not be kept
            assert inclusion_proof(conn, 1500, 1600) == merkle.inclusion_proof(
                1500, 1600, forged.stored
            )
            with read_transaction(engine) as other:  # and nobody else sees them
                assert Repository(other).tree_size() == 700
                honest.check_proofs([(3, 699)])
            raise RuntimeError("root differs: rolled back")
    except RuntimeError:
        rolled_back = True
    assert rolled_back
    honest.append(900)
    honest.check_proofs([(1500, 1599), (1023, 1599), (2, 1599), (1599, 1599)])


def test_a_history_rewritten_in_place_is_not_served_from_the_cache(engine: Engine) -> None:
    """The operator rewrites stored nodes, headers and checkpoints (ledger.service.rewrite) while
    this process holds the old tree's upper levels: the next proof is of the new tree."""
    wipe(engine)
    before = Log(engine, seed=1)
    before.append(1000)
    before.append(24)
    before.check_proofs([(10, 1023), (900, 1000)])
    assert cache_for(engine).cached_nodes() > 0
    wipe(engine)
    after = Log(engine, seed=2)
    after.append(1000)
    after.append(24)  # the same sizes and heights: only the hashes differ
    after.check_proofs([(10, 1023), (900, 1000), (1023, 1023)])


def test_a_snapshot_older_than_the_cache_is_answered_by_the_database(engine: Engine) -> None:
    """A read transaction that began before the history was rewritten and grown (a standby
    lagging behind such a rewrite would see the same) has an older head than the one the cache
    was filled under: its proofs are of its own tree, not made of the new tree's nodes."""
    wipe(engine)
    before = Log(engine, seed=3)
    before.append(500)
    with engine.connect() as old:
        if not is_sqlite(engine):
            old.execution_options(isolation_level="REPEATABLE READ")
        with old.begin():
            assert Repository(old).tree_size() == 500  # the snapshot starts here
            wipe(engine)
            after = Log(engine, seed=4)
            after.append(500)
            after.append(600)
            after.check_proofs([(1000, 1099), (3, 499)])  # the cache holds the new tree now
            cached = cache_for(engine).cached_nodes()
            assert cached > 0
            for index in (0, 250, 499):
                assert inclusion_proof(old, index, 500) == merkle.inclusion_proof(
                    index, 500, before.stored
                )
            assert cache_for(engine).cached_nodes() == cached  # kept for the current head


def test_the_cache_is_bounded_at_any_size() -> None:
    for size in (1, 1000, 10**6, 2**23, 10**8, 10**12):
        lowest = node_cache.lowest_level(size)
        assert lowest >= node_cache.MIN_LEVEL
        assert sum(size >> level for level in range(lowest, size.bit_length())) < (
            node_cache.MAX_NODES
        )


def test_proofs_after_rewrite_entry_in_this_process_are_of_the_new_tree(
    ledger: LedgerFixture,
) -> None:
    """ledger.service.rewrite (the dishonest operator) on the engine whose cache holds the
    honest tree's upper levels: the proofs that follow are of the rewritten tree."""
    ledger.fill(300, per_block=37)
    engine = ledger.node.engine
    with read_transaction(engine) as conn:
        size = Repository(conn).tree_size()
        honest = [inclusion_proof(conn, i, size) for i in (0, 5, size - 1)]
    assert cache_for(engine).cached_nodes() > 0

    def changed(data: bytes) -> bytes:
        flipped = bytearray(data)
        flipped[data.find(b'"body"') + 10] ^= 0x01  # one byte of the body, as the story does
        return bytes(flipped)

    assert rewrite_entry(engine, ledger.sequencer.log_signer, size // 2, changed) > 0
    with read_transaction(engine) as conn:
        repo = Repository(conn)
        head = repo.head()
        assert head is not None and head.size == size
        for index in (0, 5, size - 1):
            coords = merkle.inclusion_nodes(index, size)
            stored = merkle.inclusion_proof(index, size, repo.get_nodes(coords))
            leaf_hash = repo.get_nodes([(0, index)])[(0, index)]
            proof = inclusion_proof(conn, index, size)
            assert proof == stored
            merkle.verify_inclusion(index, size, leaf_hash, proof, head.root)
        assert inclusion_proof(conn, 0, size) != honest[0]
