"""Group commit: requests queue up and one thread cuts a block every `max_wait_ms` or
`max_entries`, so one fsync serves many writers. Each caller gets a Future of its outcome."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import replace
from typing import Protocol

from ledger.core.block import BlockHeader
from ledger.errors import LedgerError, StorageError
from ledger.service.pipeline import Candidate
from ledger.service.proofs import receipts_in_block
from ledger.service.sequencer import Accepted, BlockResult, Outcome, Sequencer

Waiter = Future[Outcome] | asyncio.Future[Outcome]
_Request = tuple[Candidate, Waiter, bool]  # a queued candidate, who waits, whether a receipt
_STOP = None  # queued by stop(): finish what is queued, then end the thread
log = logging.getLogger("sealchain.group_commit")


class Committer(Protocol):
    """What the API routes sequence checked entries through: a GroupCommitter in the same
    process, or a worker's BlockWriterClient (ledger.service.block_writer)."""

    async def sequence(self, candidate: Candidate, *, receipt: bool = True) -> Outcome:
        """Queue a checked candidate from a running event loop and wait for its outcome."""
        (outcome,) = await self.sequence_all([candidate], receipt=receipt)
        return outcome

    async def sequence_all(
        self, candidates: Sequence[Candidate], *, receipt: bool = True
    ) -> list[Outcome]: ...


class GroupCommitter(Committer):
    def __init__(
        self,
        sequencer: Sequencer,
        *,
        max_entries: int = 1000,
        max_wait_ms: int = 1,
        on_block: Callable[[BlockHeader], None] | None = None,
    ):
        self.sequencer = sequencer
        self.on_block = on_block
        self.max_entries = max_entries
        self.max_wait = max_wait_ms / 1000
        self._queue: queue.Queue[list[_Request] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sealchain-sequencer", daemon=True)
        self.blocks_cut = 0

    def start(self) -> GroupCommitter:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Finish what is queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    def submit(self, candidate: Candidate, *, receipt: bool = True) -> Future[Outcome]:
        """Queue a checked candidate; the Future gets its outcome (with its receipt if asked)."""
        future: Future[Outcome] = Future()
        self._queue.put([(candidate, future, receipt)])
        return future

    async def sequence_all(
        self, candidates: Sequence[Candidate], *, receipt: bool = True
    ) -> list[Outcome]:
        """Queue candidates in order from a running event loop and wait for all outcomes.

        The committer settles all of one loop's waiters of a block with a single thread-safe
        call, where a concurrent Future per entry would wake the loop once per entry."""
        return [await future for future in self._queue_all(candidates, receipt)]

    async def sequence_each(
        self, candidates: Sequence[Candidate], *, receipt: bool = True
    ) -> list[Outcome]:
        """As `sequence_all`, but an entry whose block failed to commit gets that block's
        StorageError as its outcome, and entries in other blocks keep theirs (candidates queued
        together may land in two blocks)."""
        if not candidates:
            return []
        futures = self._queue_all(candidates, receipt)
        await asyncio.wait(futures)
        outcomes: list[Outcome] = []
        for future in futures:
            error = future.exception()
            outcomes.append(error if isinstance(error, LedgerError) else future.result())
        return outcomes

    def _queue_all(
        self, candidates: Sequence[Candidate], receipt: bool
    ) -> list[asyncio.Future[Outcome]]:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Outcome]] = [loop.create_future() for _ in candidates]
        # One queue item for the lot: a put per entry would wake the committer per entry.
        self._queue.put([(c, f, receipt) for c, f in zip(candidates, futures, strict=True)])
        return futures

    def _run(self) -> None:
        pending: list[_Request] = []
        stopping = False
        while pending or not stopping:
            if not pending:
                first = self._queue.get()
                if first is _STOP:
                    return
                pending.extend(first)
            deadline = time.monotonic() + self.max_wait
            while len(pending) < self.max_entries and not stopping:
                remaining = deadline - time.monotonic()
                try:
                    item = (
                        self._queue.get(timeout=remaining)
                        if remaining > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                else:
                    pending.extend(item)
            self._commit(pending[: self.max_entries])
            del pending[: self.max_entries]

    def _commit(self, pairs: list[_Request]) -> None:
        try:
            result = self.sequencer.commit_block([c for c, _, _ in pairs])
        except Exception as e:  # storage failure: nothing was written, every waiter learns it
            error = StorageError(f"block commit failed: {type(e).__name__}")
            _settle_all([(future, None, error) for _, future, _ in pairs])
            return
        outcomes = result.outcomes
        if result.header is not None:
            self.blocks_cut += 1
            if self.on_block:
                self.on_block(result.header)
            outcomes = self._with_receipts(result, [wanted for _, _, wanted in pairs])
        _settle_all([(f, o, None) for (_, f, _), o in zip(pairs, outcomes, strict=True)])

    def _with_receipts(self, result: BlockResult, wanted: list[bool]) -> list[Outcome]:
        """Every waiting request that wants one gets its receipt, built from what the block
        commit kept in memory."""
        outcomes = result.outcomes
        accepted = [
            o.index
            for o, want in zip(outcomes, wanted, strict=True)
            if want and isinstance(o, Accepted)
        ]
        if not accepted:
            return outcomes
        try:
            receipts = dict(zip(accepted, receipts_in_block(result, accepted), strict=True))
        except (KeyError, LedgerError):
            log.exception("could not build the receipts of block %s", result.header)
            return outcomes  # callers fall back to building their own receipt from storage
        return [
            replace(o, receipt=receipts[o.index])
            if isinstance(o, Accepted) and o.index in receipts
            else o
            for o in outcomes
        ]


# What a waiter gets: its outcome, or the exception that stopped the whole block.
Settlement = tuple[Waiter, Outcome | None, Exception | None]


def _settle_all(settlements: list[Settlement]) -> None:
    """Concurrent Futures are settled here; asyncio Futures in one callback per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Settlement]] = {}
    for settlement in settlements:
        future = settlement[0]
        if isinstance(future, asyncio.Future):
            by_loop.setdefault(future.get_loop(), []).append(settlement)
        else:
            _settle(settlement)
    for loop, settled in by_loop.items():
        with suppress(RuntimeError):  # the loop closed while the block committed: nobody waits
            loop.call_soon_threadsafe(_settle_each, settled)


def _settle_each(settlements: list[Settlement]) -> None:
    for settlement in settlements:
        _settle(settlement)


def _settle(settlement: Settlement) -> None:
    future, outcome, error = settlement
    if future.done():  # an asyncio waiter that was cancelled (its client went away)
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert outcome is not None
        future.set_result(outcome)
