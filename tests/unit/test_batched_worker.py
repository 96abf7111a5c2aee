"""BatchedWorker (ledger/api/batched_worker.py): each call gets its own result or exception,
in its caller's context, from any event loop; a cancelled caller does not stop the worker;
close runs what is queued; finished calls go back to a loop in batches under load."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from ledger.api.batched_worker import BatchedWorker

LANGUAGE: contextvars.ContextVar[str] = contextvars.ContextVar("language", default="en")


def test_each_call_gets_its_own_result_in_order() -> None:
    worker = BatchedWorker("t")
    ran: list[int] = []

    def square(n: int) -> int:
        ran.append(n)
        return n * n

    async def main() -> list[int]:
        return list(await asyncio.gather(*(worker.run(square, n) for n in range(200))))

    try:
        assert asyncio.run(main()) == [n * n for n in range(200)]
    finally:
        worker.close()
    assert ran == list(range(200))  # one thread: run in the order queued


def test_an_exception_reaches_its_caller_only() -> None:
    worker = BatchedWorker("t")

    def fails(n: int) -> int:
        if n == 3:
            raise KeyError(n)
        return n

    async def main() -> list[object]:
        calls = (worker.run(fails, n) for n in range(6))
        return list(await asyncio.gather(*calls, return_exceptions=True))

    try:
        results = asyncio.run(main())
    finally:
        worker.close()
    assert [r for r in results if not isinstance(r, Exception)] == [0, 1, 2, 4, 5]
    assert isinstance(results[3], KeyError)


def test_a_call_raising_stopiteration_strands_no_other_call() -> None:
    """asyncio refuses a StopIteration in a future: it comes back as a RuntimeError, and the
    calls finished with it in the same batch are answered all the same."""
    worker = BatchedWorker("t", report_every=10.0)
    gate = threading.Event()

    async def main() -> list[object]:
        first = worker.run(gate.wait, 10)
        calls = [first, worker.run(next, iter(())), worker.run(abs, -7)]
        pending = asyncio.gather(*calls, return_exceptions=True)
        await asyncio.sleep(0.01)  # all three queued: they finish and go back together
        gate.set()
        return list(await asyncio.wait_for(pending, 10))

    try:
        opened, stopped, seven = asyncio.run(main())
    finally:
        worker.close()
    assert opened is True and seven == 7
    assert isinstance(stopped, RuntimeError)
    assert isinstance(stopped.__cause__, StopIteration)


def test_calls_run_in_their_callers_context() -> None:
    worker = BatchedWorker("t", threads=2)

    async def as_(language: str) -> str:
        LANGUAGE.set(language)
        return await worker.run(LANGUAGE.get)

    async def main() -> list[str]:
        return list(await asyncio.gather(*(as_(lang) for lang in ("zh", "en", "de") * 10)))

    try:
        assert asyncio.run(main()) == ["zh", "en", "de"] * 10
    finally:
        worker.close()


def test_callers_on_two_event_loops_are_each_answered() -> None:
    worker = BatchedWorker("t")
    answers: dict[str, list[int]] = {}

    def on_its_own_loop(name: str, offset: int) -> None:
        async def main() -> list[int]:
            return list(await asyncio.gather(*(worker.run(abs, -n - offset) for n in range(50))))

        answers[name] = asyncio.run(main())

    threads = [
        threading.Thread(target=on_its_own_loop, args=(name, offset))
        for name, offset in (("a", 0), ("b", 1000))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    worker.close()
    assert answers == {"a": list(range(50)), "b": list(range(1000, 1050))}


def test_a_cancelled_caller_leaves_the_worker_serving() -> None:
    worker = BatchedWorker("t")
    release = threading.Event()

    async def main() -> int:
        blocked = asyncio.ensure_future(worker.run(release.wait, 10))
        await asyncio.sleep(0.05)
        blocked.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await blocked
        return await worker.run(len, "still here")

    try:
        assert asyncio.run(main()) == len("still here")
    finally:
        worker.close()


def test_close_runs_what_is_queued_then_refuses_new_calls() -> None:
    worker = BatchedWorker("t")
    ran: list[int] = []

    def slow(n: int) -> None:
        time.sleep(0.01)
        ran.append(n)

    async def main() -> None:
        pending = [asyncio.ensure_future(worker.run(slow, n)) for n in range(5)]
        await asyncio.sleep(0)  # queued
        await asyncio.get_running_loop().run_in_executor(None, worker.close)
        await asyncio.gather(*pending)
        with pytest.raises(RuntimeError, match="closed"):
            await worker.run(slow, 99)

    asyncio.run(main())
    assert ran == [0, 1, 2, 3, 4]
    assert not any(t.name.startswith("t-") and t.is_alive() for t in threading.enumerate())


def test_finished_calls_go_back_in_batches_while_others_wait() -> None:
    """The point of the worker: under load, fewer wake-ups of the loop than calls. The calls
    are queued before the loop can take any answer, so they all wait together."""
    worker = BatchedWorker("t", report_every=10.0)
    wakeups = 0

    async def main() -> list[int]:
        nonlocal wakeups
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counting(*args: object, **kwargs: object) -> asyncio.Handle:
            nonlocal wakeups
            wakeups += 1
            return original(*args, **kwargs)  # type: ignore[arg-type]

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        gate = threading.Event()
        first = asyncio.ensure_future(worker.run(gate.wait, 10))
        rest = [asyncio.ensure_future(worker.run(abs, -n)) for n in range(100)]
        await asyncio.sleep(0.01)  # all queued behind the first
        gate.set()
        await first
        return list(await asyncio.gather(*rest))

    try:
        assert asyncio.run(main()) == list(range(100))
    finally:
        worker.close()
    assert 1 <= wakeups <= 3  # not 101


def test_a_worker_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        BatchedWorker("t", threads=0)
