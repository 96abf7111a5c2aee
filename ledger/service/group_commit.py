"""Group commit: requests queue up and one thread cuts a block every `max_wait_ms` or
`max_entries`, so one fsync serves many writers. Each caller gets a Future of its outcome."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace

from ledger.core.block import BlockHeader
from ledger.errors import LedgerError, StorageError
from ledger.service.pipeline import Candidate
from ledger.service.proofs import receipts_in_block
from ledger.service.sequencer import Accepted, BlockResult, Outcome, Sequencer

_STOP = object()
log = logging.getLogger("sealchain.group_commit")


class GroupCommitter:
    def __init__(
        self,
        sequencer: Sequencer,
        *,
        max_entries: int = 1000,
        max_wait_ms: int = 5,
        on_block: Callable[[BlockHeader], None] | None = None,
    ):
        self.sequencer = sequencer
        self.on_block = on_block
        self.max_entries = max_entries
        self.max_wait = max_wait_ms / 1000
        self._queue: queue.Queue[object] = queue.Queue()
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
        self._queue.put((candidate, future, receipt))
        return future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            deadline = time.monotonic() + self.max_wait
            while len(batch) < self.max_entries:
                remaining = deadline - time.monotonic()
                try:
                    nxt = (
                        self._queue.get(timeout=max(remaining, 0))
                        if remaining > 0
                        else (self._queue.get_nowait())
                    )
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)
            self._commit(batch)

    def _commit(self, batch: list[object]) -> None:
        pairs = [item for item in batch if isinstance(item, tuple)]
        try:
            result = self.sequencer.commit_block([c for c, _, _ in pairs])
        except Exception as e:  # storage failure: nothing was written, every waiter learns it
            error = StorageError(f"block commit failed: {type(e).__name__}")
            for _, future, _ in pairs:
                future.set_exception(error)
            return
        outcomes = result.outcomes
        if result.header is not None:
            self.blocks_cut += 1
            if self.on_block:
                self.on_block(result.header)
            outcomes = self._with_receipts(result, [wanted for _, _, wanted in pairs])
        for (_, future, _), outcome in zip(pairs, outcomes, strict=True):
            future.set_result(outcome)

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
