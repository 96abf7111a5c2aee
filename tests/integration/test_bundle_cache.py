"""The bundle cache (ledger.service.bundle_cache) answers what `page_bundle` answers, while the
ledger grows, on SQLite and PostgreSQL: same checkpoint, same entries, same proofs. It never
leaves out an entry newer than its snapshot, never keeps a checkpoint that is not final, and
keeps its items within their byte bound."""

from __future__ import annotations

import base64
import dataclasses
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from ledger.core.keys import Signer, parse_vkey
from ledger.errors import NotFound
from ledger.service.bundle_cache import BundleCache
from ledger.service.bundles import page_bundle, verify_page_bundle
from ledger.service.proofs import receipts_for
from ledger.storage.engine import read_transaction, write_transaction
from ledger.storage.repository import Repository
from ledger.storage.tables import entries
from tests.support.ledgers import LedgerFixture

SLOW_FIXTURE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def _grow(ledger: LedgerFixture, blocks: int, per_block: int = 3) -> None:
    """`blocks` blocks of sample notes (fill's claims can be made once per ledger)."""
    for _ in range(blocks):
        start = _size(ledger)
        ledger.accept(
            *(
                ledger.sign("writer-a", "sample.note", {"text": f"note {start + i}"})
                for i in range(per_block)
            )
        )


def _size(ledger: LedgerFixture) -> int:
    with read_transaction(ledger.node.engine) as conn:
        return Repository(conn).tree_size()


def _both(ledger: LedgerFixture, cache: BundleCache, indexes: list[int]) -> tuple[dict, dict]:
    with read_transaction(ledger.node.engine) as conn:
        return cache.bundle(conn, indexes), page_bundle(conn, indexes, ledger.node.log_policy)


@settings(max_examples=25, deadline=None, suppress_health_check=SLOW_FIXTURE)
@given(steps=st.lists(st.tuples(st.integers(0, 3), st.lists(st.integers(0, 200))), max_size=6))
def test_the_cache_answers_what_page_bundle_answers_as_the_ledger_grows(
    ledger: LedgerFixture, steps: list[tuple[int, list[int]]]
) -> None:
    cache = BundleCache(ledger.node.log_policy, ttl=3600)  # only growth may make a snapshot
    for blocks, picks in steps:
        if blocks:
            _grow(ledger, blocks)
        size = _size(ledger)
        indexes = [p % size for p in picks]
        cached, direct = _both(ledger, cache, indexes)
        # The newest entry named is always in the answer, proven against a tree that holds it.
        assert cached == direct or _same_entries_older_checkpoint(cached, direct)
        assert {i for i in indexes} <= {e["index"] for e in cached["entries"]}


def _same_entries_older_checkpoint(cached: dict, direct: dict) -> bool:
    """A snapshot made earlier proves against its own (older) checkpoint: the same app entries
    and bytes, and the proofs are for the older size (checked by verify_page_bundle)."""
    older = int(cached["checkpoint"].splitlines()[1]) < int(direct["checkpoint"].splitlines()[1])
    mine = {e["index"]: e["entry"] for e in cached["entries"]}
    theirs = {e["index"]: e["entry"] for e in direct["entries"]}
    return older and all(theirs.get(i) == entry for i, entry in mine.items())


def test_bundles_from_the_cache_verify(ledger: LedgerFixture) -> None:
    ledger.fill(40, per_block=7)
    cache = BundleCache(ledger.node.log_policy)
    trust = ledger.node.home.trust_policy()
    for indexes in ([], [5], [3, 17, 39], [39, 3, 3]):
        with read_transaction(ledger.node.engine) as conn:
            bundle = cache.bundle(conn, indexes)
        verified = verify_page_bundle(bundle, trust)
        assert {i for i, _ in verified.entries} >= {i for i in indexes if i > 0}
        assert verified.size == _size(ledger)


def test_an_entry_newer_than_the_snapshot_makes_a_new_one(ledger: LedgerFixture) -> None:
    ledger.fill(10, per_block=5)
    cache = BundleCache(ledger.node.log_policy, ttl=3600)
    first, _ = _both(ledger, cache, [2])
    _grow(ledger, 1, per_block=5)
    newest = _size(ledger) - 1
    second, direct = _both(ledger, cache, [newest])
    assert second == direct
    assert second["checkpoint"] != first["checkpoint"]
    again, _ = _both(ledger, cache, [2])  # older entries now prove against the newer snapshot
    assert again["checkpoint"] == second["checkpoint"]


def test_a_snapshot_expires_after_its_ttl(ledger: LedgerFixture) -> None:
    ledger.fill(6, per_block=3)
    cache = BundleCache(ledger.node.log_policy, ttl=0.05)
    first, _ = _both(ledger, cache, [1])
    _grow(ledger, 1)
    time.sleep(0.1)
    later, direct = _both(ledger, cache, [1])  # entry 1 is old, but the snapshot is stale
    assert later == direct
    assert later["checkpoint"] != first["checkpoint"]


def test_items_stay_within_their_byte_bound(ledger: LedgerFixture) -> None:
    ledger.fill(60, per_block=10)
    cache = BundleCache(ledger.node.log_policy, ttl=3600, max_bytes=4000)
    for index in range(1, 60):
        cached, direct = _both(ledger, cache, [index])
        assert cached == direct
    (snapshot,) = cache._snapshots.values()
    assert 0 < snapshot.item_bytes <= 4000
    assert len(snapshot.items) < 59
    kept = max(snapshot.items)
    assert kept == 59  # the most recently asked for stays
    assert base64.b64decode(snapshot.items[kept]["entry"])


def test_a_checkpoint_that_is_not_final_is_never_kept(ledger: LedgerFixture) -> None:
    """With a quorum no witness has cosigned, every bundle proves against the latest (not final)
    checkpoint, and each looks again: none is kept to serve the next page."""
    ledger.fill(6, per_block=3)
    witness = Signer.generate("witness.example")
    policy = dataclasses.replace(
        ledger.node.log_policy,
        witnesses={"w": parse_vkey(witness.vkey)},
        quorum="w",
    )
    cache = BundleCache(policy, ttl=3600)
    with read_transaction(ledger.node.engine) as conn:
        cached, direct = cache.bundle(conn, [2]), page_bundle(conn, [2], policy)
    assert cached == direct
    assert cache._snapshots == {}


def test_items_outlive_snapshots_of_the_same_checkpoint_for_a_bounded_time(
    ledger: LedgerFixture,
) -> None:
    """A new snapshot of an unchanged checkpoint keeps the items proven before (their proofs
    hold); after `reread_after` it reads them afresh, so an edited row shows on pages (where
    the browser's verification fails) within that time."""
    ledger.fill(6, per_block=3)
    cache = BundleCache(ledger.node.log_policy, ttl=0.01, reread_after=0.5)
    first, _ = _both(ledger, cache, [4])
    edited = b'{"edited": true}'
    with write_transaction(ledger.node.engine) as conn:
        conn.execute(update(entries).where(entries.c.idx == 4).values(data=edited))
    time.sleep(0.05)  # a new snapshot, of the same checkpoint
    kept, direct = _both(ledger, cache, [4])
    assert kept == first  # the item proven before, not read again
    assert kept["checkpoint"] == direct["checkpoint"]
    assert _entry(direct, 4) == edited
    time.sleep(0.5)
    reread, direct = _both(ledger, cache, [4])
    assert reread == direct  # read afresh: the edited bytes, as page_bundle serves them
    assert _entry(reread, 4) == edited


def _entry(bundle: dict, index: int) -> bytes:
    (item,) = [i for i in bundle["entries"] if i["index"] == index]
    return base64.b64decode(item["entry"])


def test_receipts_from_the_cache_are_what_receipts_for_makes(ledger: LedgerFixture) -> None:
    ledger.fill(30, per_block=7)
    cache = BundleCache(ledger.node.log_policy, ttl=3600)
    # In the order asked (a PDF names its issue entry first), repeats kept; 0 is the genesis,
    # a governance entry the snapshot holds already.
    indexes = [17, 3, 0, 17, _size(ledger) - 1]
    with read_transaction(ledger.node.engine) as conn:
        cached = cache.receipts(conn, indexes)
        direct = receipts_for(conn, indexes, ledger.node.log_policy)
    assert cached == direct
    assert [r.index for r in cached] == indexes
    _grow(ledger, 1)
    newest = _size(ledger) - 1
    with read_transaction(ledger.node.engine) as conn:
        (grown,) = cache.receipts(conn, [newest])  # beyond the snapshot: a new one holds it
        assert grown == receipts_for(conn, [newest], ledger.node.log_policy)[0]
        with pytest.raises(NotFound):
            cache.receipts(conn, [newest + 1])


def test_a_snapshot_ahead_of_the_readers_transaction_does_not_hide_its_entries(
    ledger: LedgerFixture,
) -> None:
    # A reader's transaction began before a block; another thread then made the snapshot of
    # the new tree. The reader's entries not proven yet cannot be read at the newer size in
    # its transaction: its own answer stands, not a 404.
    ledger.fill(20, per_block=5)
    cache = BundleCache(ledger.node.log_policy, ttl=3600)
    with read_transaction(ledger.node.engine) as older:
        before = Repository(older).tree_size()  # the transaction's snapshot starts here
        _grow(ledger, 1)
        with read_transaction(ledger.node.engine) as newer:
            cache.receipts(newer, [_size(ledger) - 1])
        (receipt,) = cache.receipts(older, [3])
        assert receipt == receipts_for(older, [3], ledger.node.log_policy)[0]
        if ledger.node.engine.dialect.name == "sqlite":  # PostgreSQL reads what is committed
            assert int(receipt.checkpoint.splitlines()[1]) == before
        bundle = cache.bundle(older, [4])
        assert bundle == page_bundle(older, [4], ledger.node.log_policy)
