"""The block writer of `serve --workers N`: workers hand checked entries over a Unix socket, one
process commits them all, and each worker gets its own outcomes and receipts back."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ledger.core.receipt import verify_receipt
from ledger.errors import DuplicateEntry, Replay, StateConflict, StorageError
from ledger.home import Home
from ledger.service.audit import audit
from ledger.service.block_writer import BlockWriterClient, BlockWriterServer
from ledger.service.group_commit import GroupCommitter
from ledger.service.pipeline import Candidate
from ledger.service.sequencer import Accepted, Outcome
from tests.support.ledgers import LedgerFixture


@contextmanager
def running_writer(
    ledger: LedgerFixture, path: str, max_wait_ms: int = 20
) -> Iterator[BlockWriterServer]:
    """A block writer on `path`, its event loop on a thread of its own, as in its process."""
    committer = GroupCommitter(ledger.sequencer, max_wait_ms=max_wait_ms)
    server = BlockWriterServer(committer, ledger.node.registry)
    committer.on_block = server.block_committed
    committer.start()
    loop = asyncio.new_event_loop()
    listening = threading.Event()
    stopping: list[asyncio.Event] = []

    async def serve() -> None:
        stopping.append(asyncio.Event())
        await server.serve(path, listening.set, stopping[0])

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert listening.wait(30)
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stopping[0].set)
        thread.join(30)
        committer.stop()
        loop.close()


def checked(ledger: LedgerFixture, *envelopes: object) -> list[Candidate]:
    candidates = ledger.sequencer.precheck_all([e.raw for e in envelopes])  # type: ignore[attr-defined]
    assert all(isinstance(c, Candidate) for c in candidates), candidates
    return candidates  # type: ignore[return-value]


def test_two_workers_entries_share_blocks_and_each_gets_its_receipts(
    ledger: LedgerFixture, tmp_path: Path
) -> None:
    policy = Home(ledger.settings.home).trust_policy()
    first = checked(
        ledger, *(ledger.sign("writer-a", "sample.note", {"text": f"a{i}"}) for i in range(30))
    )
    second = checked(
        ledger, *(ledger.sign("writer-b", "sample.note", {"text": f"b{i}"}) for i in range(30))
    )
    path = str(tmp_path / "writer.sock")

    async def two_workers() -> tuple[list[Outcome], list[Outcome]]:
        workers = [BlockWriterClient(path), BlockWriterClient(path)]
        for worker in workers:
            await worker.connect()
        # Each submit on its own, as requests arrive; a worker sends one frame per loop turn.
        answers = await asyncio.gather(
            asyncio.gather(*(workers[0].sequence(c) for c in first)),
            asyncio.gather(*(workers[1].sequence(c) for c in second)),
        )
        for worker in workers:
            await worker.close()
        return answers[0], answers[1]

    with running_writer(ledger, path):
        outcomes_a, outcomes_b = asyncio.run(two_workers())
    accepted = [o for o in [*outcomes_a, *outcomes_b] if isinstance(o, Accepted)]
    assert len(accepted) == 60
    assert sorted(o.index for o in accepted) == list(range(1, 61))
    # One block carried both workers' entries: that is what the one writer is for.
    heights_a = {o.block_height for o in outcomes_a if isinstance(o, Accepted)}
    heights_b = {o.block_height for o in outcomes_b if isinstance(o, Accepted)}
    assert heights_a & heights_b
    for candidate, outcome in zip([*first, *second], [*outcomes_a, *outcomes_b], strict=True):
        assert isinstance(outcome, Accepted) and outcome.receipt is not None
        assert outcome.receipt.entry == candidate.envelope.as_dict()
        assert outcome.tx_id == candidate.envelope.tx_id and outcome.block_time
        verified = verify_receipt(outcome.receipt, policy)
        assert verified.envelope.tx_id == candidate.envelope.tx_id
    assert audit(ledger.node.engine, ledger.node.registry).ok


def test_refusals_come_back_as_the_errors_the_block_raised(
    ledger: LedgerFixture, tmp_path: Path
) -> None:
    (committed,) = checked(ledger, ledger.sign("writer-a", "sample.note", {"text": "once"}))
    claim = checked(
        ledger,
        ledger.sign("writer-a", "sample.claim", {"item": "lot-7"}),
        ledger.sign("writer-b", "sample.claim", {"item": "lot-7"}),
    )
    same_nonce = checked(
        ledger,
        ledger.sign("writer-a", "sample.note", {"text": "n1"}, nonce="n" * 32),
        ledger.sign("writer-a", "sample.note", {"text": "n2"}, nonce="n" * 32),
    )
    path = str(tmp_path / "writer.sock")

    async def worker() -> list[Outcome]:
        client = BlockWriterClient(path)
        await client.connect()
        (first,) = await client.sequence_all([committed], receipt=False)
        again = await client.sequence(committed)
        rest = await client.sequence_all([*claim, *same_nonce])
        await client.close()
        return [first, again, *rest]

    with running_writer(ledger, path):
        first, again, claimed, claimed_again, nonce, nonce_again = asyncio.run(worker())
    assert isinstance(first, Accepted) and first.receipt is None  # receipt=False: none built
    assert isinstance(again, DuplicateEntry) and again.status == 409
    assert again.extra == {"tx_id": committed.envelope.tx_id}
    assert isinstance(claimed, Accepted) and isinstance(nonce, Accepted)
    assert isinstance(claimed_again, StateConflict) and "lot-7" in claimed_again.detail
    assert isinstance(nonce_again, Replay) and nonce_again.code == "replay"


def test_a_worker_that_loses_its_writer_answers_503_not_a_hang(
    ledger: LedgerFixture, tmp_path: Path
) -> None:
    path = str(tmp_path / "writer.sock")
    before, late = checked(
        ledger,
        ledger.sign("writer-a", "sample.note", {"text": "before"}),
        ledger.sign("writer-a", "sample.note", {"text": "late"}),
    )

    async def unreachable() -> None:
        await BlockWriterClient(path).connect()

    with pytest.raises(StorageError, match="cannot reach the block writer"):
        asyncio.run(unreachable())

    async def writer_stops_under_it() -> Outcome:
        client = BlockWriterClient(path)
        with running_writer(ledger, path):
            await client.connect()
            assert isinstance(await client.sequence(before), Accepted)
        await asyncio.sleep(0.2)  # the hang-up reaches this end
        return await client.sequence(late)

    with pytest.raises(StorageError, match="lost its block writer") as gone:
        asyncio.run(writer_stops_under_it())
    assert gone.value.status == 503


def test_a_fault_in_the_writer_answers_503_and_the_writer_goes_on(
    ledger: LedgerFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "writer.sock")
    first, second = checked(
        ledger,
        ledger.sign("writer-a", "sample.note", {"text": "fault"}),
        ledger.sign("writer-a", "sample.note", {"text": "after"}),
    )

    async def worker(server: BlockWriterServer) -> tuple[Outcome, Outcome]:
        client = BlockWriterClient(path)
        await client.connect()
        with monkeypatch.context() as patched:
            patched.setattr(server, "_candidate", lambda text: 1 / 0)  # a bug, not a refusal
            faulted = await asyncio.wait_for(client.sequence(first), 30)
        after = await client.sequence(second)
        await client.close()
        return faulted, after

    with running_writer(ledger, path) as server:
        faulted, after = asyncio.run(worker(server))
    assert isinstance(faulted, StorageError) and faulted.status == 503
    assert isinstance(after, Accepted) and after.index == 1
