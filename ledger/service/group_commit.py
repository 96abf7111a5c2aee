"""Group commit: requests queue up and one thread cuts a block every `max_wait_ms` or
`max_entries`, so one fsync serves many writers. Each caller gets a Future of its outcome."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from ledger.core.block import BlockHeader
from ledger.errors import StorageError
from ledger.service.pipeline import Candidate
from ledger.service.sequencer import Outcome, Sequencer

_STOP = object()


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

    def submit(self, candidate: Candidate) -> Future[Outcome]:
        future: Future[Outcome] = Future()
        self._queue.put((candidate, future))
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
            result = self.sequencer.commit_block([c for c, _ in pairs])
        except Exception as e:  # storage failure: nothing was written, every waiter learns it
            error = StorageError(f"block commit failed: {type(e).__name__}")
            for _, future in pairs:
                future.set_exception(error)
            return
        if result.header is not None:
            self.blocks_cut += 1
            if self.on_block:
                self.on_block(result.header)
        for (_, future), outcome in zip(pairs, result.outcomes, strict=True):
            future.set_result(outcome)
