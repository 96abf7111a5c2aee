"""Quick reads run on the ledger's few read threads (ApiState.reads), not on the 40 that sync
routes share: one worker per app run, made on first use, its queued reads answered and its
threads ended when the app stops."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fastapi.testclient import TestClient

from ledger.api import create_app
from ledger.api.batched_worker import READ_THREADS_DEFAULT, BatchedWorker
from ledger.api.deps import ApiState, Ledger
from ledger.service import proofs
from tests.support.ledgers import LedgerFixture


def test_read_threads_follow_the_dialect() -> None:
    assert len(BatchedWorker.for_reads("t", "sqlite")._threads) == 1
    assert len(BatchedWorker.for_reads("t", "postgresql")._threads) == READ_THREADS_DEFAULT


def test_log_reads_run_on_the_read_threads_and_end_with_the_app(
    ledger: LedgerFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.fill(20, per_block=10)
    seen: list[str] = []
    real = proofs.checkpoint_with_cosignatures

    def spy(*args: object, **kwargs: object) -> tuple[int, str]:
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(proofs, "checkpoint_with_cosignatures", spy)
    app = create_app(ledger.settings, node=ledger.node)
    state: ApiState = app.state.sealchain
    with TestClient(app) as client:
        for path in ("/checkpoint", "/v1/checkpoint"):
            assert client.get(path).status_code == 200
        worker = state.reads()
        assert state.reads() is worker  # one per app run
        threads = list(worker._threads)
    assert len(seen) == 2
    assert all(name.startswith("ledger-reads-") for name in seen)
    assert state._reads is None  # closed with the app; a restart makes another
    assert not any(t.is_alive() for t in threads)


def test_run_read_outside_a_server_uses_a_pool_thread(ledger: LedgerFixture) -> None:
    # Ledger objects made by lifespan hooks and tools have no read worker.
    answer = asyncio.run(Ledger(ledger.node).run_read(lambda: threading.current_thread().name))
    assert not answer.startswith("ledger-reads")
    assert answer != threading.current_thread().name
