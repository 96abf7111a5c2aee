"""`BatchedWorker`: threads that run a route's blocking calls for the event loop, and hand the
results back a batch at a time.

anyio's `to_thread.run_sync` wakes the event loop once per call (`call_soon_threadsafe`, a
write to the loop's wake-up descriptor), and the worker thread holds the GIL while it does.
Under load that wake-up was a quarter of the GIL time of the beef scan page (py-spy --gil, 32
clients, one worker), more than the page's own queries. A BatchedWorker's thread keeps the
calls it has finished and wakes each loop once for all of them: when no other call is waiting
(so an idle server answers at once), or after the call that ends more than `report_every`
seconds after the oldest of them finished (a finished call can wait for one more call).

Calls run in the order they were queued, each in a copy of its caller's context (the
request's language, like anyio's). A call whose caller stopped waiting still runs; its result
is dropped. `close` ends the threads once the calls already queued have run.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ledger.storage.engine import kept_read_connections

T = TypeVar("T")
REPORT_EVERY = 0.005  # seconds a finished call waits at most for others to go back with it
# Threads for a ledger's quick reads, by SQLAlchemy dialect. SQLite answers while the thread
# holds the GIL for most of a read, so a second thread only takes turns with the first (32
# clients on the certs status route: 1 thread 640/s, 2 595/s, 4 350/s, anyio's 40 320/s).
# PostgreSQL's round trips release the GIL, and a few threads overlap them.
READ_THREADS = {"sqlite": 1}
READ_THREADS_DEFAULT = 4
_Done = tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Any, BaseException | None]
_STOP = None


class BatchedWorker:
    def __init__(
        self,
        name: str,
        threads: int = 1,
        report_every: float = REPORT_EVERY,
        keep_read_connections: bool = False,
    ) -> None:
        """`keep_read_connections`: each thread keeps its SQLite read connections between
        calls (ledger.storage.engine.kept_read_connections), for a worker that only reads."""
        if threads < 1:
            raise ValueError("a worker needs at least one thread")
        self.name = name
        self.report_every = report_every
        self._keep_read_connections = keep_read_connections
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        self._started = False
        self._closed = False
        self._lock = threading.Lock()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on one of the worker's threads; its result, or its exception raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"worker {self.name} is closed")
            if not self._started:  # threads start on first use: apps made in tests never use
                for thread in self._threads:
                    thread.start()
                self._started = True
            self._queue.put((loop, future, contextvars.copy_context(), fn, args))
        return await future

    @classmethod
    def for_reads(cls, name: str, dialect: str) -> BatchedWorker:
        """A worker with as many threads as quick reads on `dialect` want (READ_THREADS)."""
        return cls(
            name, READ_THREADS.get(dialect, READ_THREADS_DEFAULT), keep_read_connections=True
        )

    def close(self, timeout: float = 30.0) -> None:
        """Run what is queued, then stop the threads (waiting up to `timeout` for each)."""
        with self._lock:
            self._closed = True
            started = self._started
        if not started:
            return
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)

    def _work(self) -> None:
        with kept_read_connections() if self._keep_read_connections else contextlib.nullcontext():
            self._serve()

    def _serve(self) -> None:
        done: list[_Done] = []
        oldest = 0.0
        while True:
            try:
                # Block only with nothing to report: with results waiting, an empty queue
                # means nobody else will go back with them soon.
                item = self._queue.get(block=not done)
            except queue.Empty:
                _report(done)
                done = []
                continue
            if item is _STOP:
                _report(done)
                return
            loop, future, context, fn, args = item
            if not done:
                oldest = time.monotonic()
            try:
                done.append((loop, future, context.run(fn, *args), None))
            except StopIteration as e:
                # A future cannot hold a StopIteration (asyncio refuses it): as anyio does.
                error = RuntimeError("the call raised StopIteration")
                error.__cause__ = e
                done.append((loop, future, None, error))
            except BaseException as e:
                done.append((loop, future, None, e))
            if time.monotonic() - oldest >= self.report_every:
                _report(done)
                done = []


def _report(done: list[_Done]) -> None:
    """One wake-up per event loop for all of `done`."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Done]] = {}
    for item in done:
        by_loop.setdefault(item[0], []).append(item)
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_settle, items)


def _settle(items: list[_Done]) -> None:
    for _, future, result, error in items:
        if future.done():  # the caller was cancelled
            continue
        try:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
        except (TypeError, asyncio.InvalidStateError) as e:
            # Never leave the rest of the batch waiting for one that could not be settled.
            with contextlib.suppress(asyncio.InvalidStateError):
                future.set_exception(RuntimeError(f"could not return the call's outcome: {e}"))
