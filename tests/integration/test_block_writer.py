"""The block writer of `serve --workers N`: workers hand checked entries over a Unix socket, one
process commits them all, and each worker gets its own outcomes and receipts back."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ledger import serving
from ledger.core.receipt import verify_receipt
from ledger.errors import DuplicateEntry, Replay, StateConflict, StorageError
from ledger.home import Home
from ledger.service import block_writer
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


@pytest.mark.parametrize("request_entries", [10_000, 3])
def test_waiters_of_one_turn_each_get_their_own_outcomes(
    ledger: LedgerFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request_entries: int
) -> None:
    """Calls of one event-loop turn share a request (or several, when it fills up: 3 entries
    here), and the answer is split back among them by count, in order."""
    monkeypatch.setattr(block_writer, "REQUEST_ENTRIES", request_entries)
    path = str(tmp_path / "writer.sock")
    texts = [[f"call{n}-{i}" for i in range(size)] for n, size in enumerate([3, 1, 2, 5, 1])]
    calls = [
        checked(ledger, *(ledger.sign("writer-a", "sample.note", {"text": t}) for t in call))
        for call in texts
    ]
    wants_receipt = [True, False, True, False, True]

    sent: list[int] = []

    async def one_turn() -> list[list[Outcome]]:
        client = BlockWriterClient(path)
        await client.connect()
        answers = await asyncio.gather(
            *(
                client.sequence_all(call, receipt=want)
                for call, want in zip(calls, wants_receipt, strict=True)
            )
        )
        await client.close()
        sent.append(next(client._ids) - 1)  # requests numbered from 1
        return answers

    with running_writer(ledger, path):
        answers = asyncio.run(one_turn())
    # One request per receipt flag (6 entries each), or as many as the limit makes of them.
    assert sent == [2 * -(-6 // request_entries)]
    for call, answer, want in zip(calls, answers, wants_receipt, strict=True):
        assert [o.tx_id for o in answer] == [c.envelope.tx_id for c in call]  # type: ignore[union-attr]
        for candidate, outcome in zip(call, answer, strict=True):
            assert isinstance(outcome, Accepted)
            assert (outcome.receipt is not None) == want
            if outcome.receipt is not None:
                assert outcome.receipt.entry == candidate.envelope.as_dict()
    indexes = sorted(o.index for answer in answers for o in answer)  # type: ignore[union-attr]
    assert indexes == list(range(1, 13))


def test_a_writer_gone_mid_request_fails_its_waiters_and_tells_the_worker(
    ledger: LedgerFixture, tmp_path: Path
) -> None:
    """A peer that reads a request and hangs up, as a writer that died would: the waiting
    caller gets 503, and `on_lost` (a worker stops itself on it) is called once; a connection
    the worker closes itself calls nothing."""
    path = str(tmp_path / "writer.sock")
    (candidate,) = checked(ledger, ledger.sign("writer-a", "sample.note", {"text": "lost"}))
    lost: list[str] = []

    async def hang_up_after_one_frame(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await block_writer._read_frame(reader)
        writer.close()

    async def scenario() -> BaseException | None:
        server = await asyncio.start_unix_server(hang_up_after_one_frame, path=path)
        closed_by_us = BlockWriterClient(path, on_lost=lambda: lost.append("closed"))
        await closed_by_us.connect()
        await closed_by_us.close()
        client = BlockWriterClient(path, on_lost=lambda: lost.append("lost"))
        await client.connect()
        try:
            await asyncio.wait_for(client.sequence(candidate), 30)
        except StorageError as e:
            return e
        finally:
            server.close()
        return None

    error = asyncio.run(scenario())
    assert isinstance(error, StorageError) and "went away before it answered" in error.detail
    assert lost == ["lost"]


def test_the_writer_socket_fits_a_unix_socket_path_whatever_tmpdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert serving.socket_parent() == str(tmp_path)
    deep = tmp_path / ("d" * 60) / ("e" * 40)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    assert serving.socket_parent() == "/tmp"
    with tempfile.TemporaryDirectory(prefix="sealchain-", dir=serving.socket_parent()) as private:
        path = os.path.join(private, "writer.sock")
        with socket.socket(socket.AF_UNIX) as listening:
            listening.bind(path)  # too long a path raises OSError here
        assert os.stat(private).st_mode & 0o777 == 0o700
