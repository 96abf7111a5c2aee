"""Group commit: many concurrent writers, blocks cut by count or by time, contiguous indexes."""

from __future__ import annotations

import threading

from ledger.service.audit import audit
from ledger.service.group_commit import GroupCommitter
from ledger.service.sequencer import Accepted
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
