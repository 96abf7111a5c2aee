"""Group commit: many concurrent writers, blocks cut by count or by time, contiguous indexes."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from ledger.core.receipt import verify_receipt
from ledger.errors import LedgerError, StateConflict
from ledger.home import Home
from ledger.service.audit import audit
from ledger.service.group_commit import GroupCommitter
from ledger.service.pipeline import Candidate
from ledger.service.proofs import receipt_for, receipts_in_block
from ledger.service.sequencer import Accepted, parse_each
from ledger.storage.engine import read_transaction
from ledger.storage.repository import Repository
from tests.support.ledgers import LedgerFixture


def test_concurrent_writers_share_blocks_and_indexes_stay_contiguous(ledger: LedgerFixture) -> None:
    envelopes = [ledger.sign("writer-a", "sample.note", {"text": f"n{i}"}) for i in range(120)]
    candidates = ledger.sequencer.precheck_all([e.raw for e in envelopes])
    committer = GroupCommitter(ledger.sequencer, max_entries=25, max_wait_ms=50).start()
    outcomes: list[object] = [None] * len(candidates)

    def worker(start: int) -> None:
        for i in range(start, len(candidates), 8):
            outcomes[i] = committer.submit(candidates[i]).result(timeout=60)  # type: ignore[arg-type]

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    committer.stop()
    assert all(isinstance(o, Accepted) for o in outcomes)
    indexes = sorted(o.index for o in outcomes)  # type: ignore[union-attr]
    assert indexes == list(range(1, 121))
    # blocks were shared: fewer blocks than entries, none larger than the count limit
    assert 120 / 25 <= committer.blocks_cut < 120
    with read_transaction(ledger.node.engine) as conn:
        repo = Repository(conn)
        head = repo.head()
        assert head is not None and head.size == 121
        counts = [repo.block(h).count for h in range(1, head.height + 1)]  # type: ignore[union-attr]
    assert max(counts) <= 25
    assert audit(ledger.node.engine, ledger.node.registry).ok


def test_a_lone_writer_is_committed_after_the_wait(ledger: LedgerFixture) -> None:
    (candidate,) = ledger.sequencer.precheck_all(
        [ledger.sign("writer-a", "sample.note", {"text": "x"}).raw]
    )
    committer = GroupCommitter(ledger.sequencer, max_entries=1000, max_wait_ms=20).start()
    outcome = committer.submit(candidate).result(timeout=30)
    committer.stop()
    assert isinstance(outcome, Accepted) and outcome.index == 1
    assert committer.blocks_cut == 1


def test_receipts_built_in_memory_equal_receipts_read_from_storage(ledger: LedgerFixture) -> None:
    policy = Home(ledger.settings.home).trust_policy()
    # Block sizes that put new entries on both sides of perfect-subtree boundaries.
    for block_size in (1, 2, 3, 5, 8, 13, 1, 21, 34):
        envelopes = [
            ledger.sign("writer-a", "sample.note", {"text": f"b{block_size}-{i}"})
            for i in range(block_size)
        ]
        candidates = ledger.sequencer.precheck_all([e.raw for e in envelopes])
        result = ledger.sequencer.commit_block(candidates)  # type: ignore[arg-type]
        assert result.header is not None
        indexes = [o.index for o in result.outcomes if isinstance(o, Accepted)]
        assert len(indexes) == block_size
        in_memory = receipts_in_block(result, indexes)
        with read_transaction(ledger.node.engine) as conn:
            stored = [receipt_for(conn, e.tx_id, size=result.header.size) for e in envelopes]
        assert in_memory == stored
        for receipt in in_memory:
            verify_receipt(receipt, policy)


def _finishes(call: Callable[[], object], seconds: float) -> list[object]:
    """Run `call` in a thread; its result if it returns within `seconds`, else []."""
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    return results


def test_prechecks_pause_while_this_process_writes_a_block(ledger: LedgerFixture) -> None:
    sequencer = ledger.sequencer
    raws = [ledger.sign("writer-a", "sample.note", {"text": f"p{i}"}).raw for i in range(3)]
    sequencer.precheck_all(raws[:1])  # loads the member cache the event loop's precheck uses
    results: list[list[Candidate | LedgerError]] = []
    finished = threading.Event()

    def precheck() -> None:
        results.append(sequencer.precheck_all(raws))
        finished.set()

    with sequencer._holding_write_lock():
        threading.Thread(target=precheck, daemon=True).start()
        # Three prechecks take about a millisecond; held back, they do not finish in 0.5 s.
        assert not finished.wait(0.5)
        # The event loop's cache-only precheck never waits: it would stall every connection.
        (cached,) = _finishes(lambda: sequencer.precheck_cached(parse_each(raws)), 30)
        assert isinstance(cached, list) and all(isinstance(c, Candidate) for c in cached)
    assert finished.wait(30)
    assert all(isinstance(c, Candidate) for c in results[0])


def test_a_failed_block_write_does_not_hold_prechecks_back(ledger: LedgerFixture) -> None:
    genesis = Home(ledger.settings.home).genesis_path.read_bytes().strip()
    with pytest.raises(StateConflict, match="already has a genesis"):
        ledger.sequencer.commit_genesis(genesis)  # refused inside the write transaction
    raw = ledger.sign("writer-a", "sample.note", {"text": "after"}).raw
    (checked,) = _finishes(lambda: ledger.sequencer.precheck_all([raw]), 30)
    assert isinstance(checked, list) and isinstance(checked[0], Candidate)
