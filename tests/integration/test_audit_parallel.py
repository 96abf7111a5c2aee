"""The audit's worker processes name the same first fault as one process would, deep in a large
ledger too: a bad signature pages after the first, a bad signature in the first page (checked
before the workers know any key), and an earlier fault of another kind that must win over it.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import gc
import multiprocessing.context
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from ledger.service.audit import PAGE, AuditResult, _Examiner, audit
from ledger.storage.engine import write_transaction
from tests.support.ledgers import LedgerFixture, make_ledger

ENTRIES = 6 * PAGE  # past several pages in flight at once (two per worker)
DEEP = 5 * PAGE - 17  # in a page the workers check while the main process walks another


@pytest.fixture
def ledger(tmp_path: Path, db_url: str | None) -> Iterator[LedgerFixture]:
    built = make_ledger(tmp_path / "home", db_url)
    built.fill(ENTRIES, 250)
    yield built
    built.close()


def _bad_signature(index: int) -> Callable[[Connection], None]:
    """Change one character in the middle of the entry's base64 signature: the entry stays
    canonical JSON with the same tx_id (ids never depend on signatures), but does not verify."""

    def mutate(conn: Connection) -> None:
        data = conn.execute(text("SELECT data FROM entries WHERE idx = :i"), {"i": index}).scalar()
        raw = bytes(data)
        start = raw.rindex(b'"sig":"') + len(b'"sig":"')
        sig = raw[start : raw.index(b'"', start)]
        middle = len(sig) // 2
        changed = sig[:middle] + (b"B" if sig[middle : middle + 1] != b"B" else b"C")
        changed += sig[middle + 1 :]
        assert len(base64.b64decode(changed)) == 64
        conn.execute(
            text("UPDATE entries SET data = :d WHERE idx = :i"),
            {"d": raw[:start] + changed + raw[start + len(sig) :], "i": index},
        )

    return mutate


def _missing_nonce(index: int) -> Callable[[Connection], None]:
    def mutate(conn: Connection) -> None:
        conn.execute(text("DELETE FROM nonces WHERE idx = :i"), {"i": index})

    return mutate


def _audit(ledger: LedgerFixture, workers: int) -> AuditResult:
    node = ledger.node
    return audit(node.engine, node.registry, log_keys=node.log_policy.logs, workers=workers)


def _tamper(ledger: LedgerFixture, *mutations: Callable[[Connection], None]) -> None:
    with write_transaction(ledger.node.engine) as conn:
        for mutate in mutations:
            mutate(conn)


def test_audit_with_workers_passes_a_sound_ledger(ledger: LedgerFixture) -> None:
    result = _audit(ledger, workers=2)
    assert result.ok, result.first_bad
    assert result.entries > ENTRIES
    assert result == _audit(ledger, workers=1)


@pytest.mark.parametrize("index", [DEEP, 7], ids=["deep", "first-page"])
def test_audit_names_a_bad_signature_deep_in_the_log_as_the_first_fault(
    ledger: LedgerFixture, index: int
) -> None:
    _tamper(ledger, _bad_signature(index))
    parallel = _audit(ledger, workers=2)
    assert not parallel.ok
    assert parallel.first_bad == f"entry {index}: signature does not verify"
    assert parallel.where == f"entry {index}"
    sequential = _audit(ledger, workers=1)
    assert (parallel.first_bad, parallel.entries, parallel.blocks) == (
        sequential.first_bad,
        sequential.entries,
        sequential.blocks,
    )
    assert parallel.entries == index  # every entry before it passed, none after it counted


def test_audit_names_an_earlier_fault_before_a_later_bad_signature(ledger: LedgerFixture) -> None:
    _tamper(ledger, _bad_signature(DEEP), _missing_nonce(DEEP - 2 * PAGE))
    for workers in (2, 1):
        result = _audit(ledger, workers=workers)
        assert result.first_bad == (
            f"entry {DEEP - 2 * PAGE}: nonce row is missing or does not match the entry"
        )


def test_audit_workers_die_on_sigterm_whatever_the_parent_does_with_it(
    ledger: LedgerFixture,
) -> None:
    """`sealchain demo` turns SIGTERM into KeyboardInterrupt; forked workers inherited that,
    and closing the pool (Pool.terminate sends SIGTERM) could then hang the audit forever.
    The workers get the default SIGTERM (die) and ignore Ctrl-C, which the parent handles;
    and an audit run under such a handler still finishes and passes."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        examiner = _Examiner(ledger.node.registry, 2)
        assert examiner.pool is not None
        try:
            in_worker = examiner.pool.apply(_handlers)
        finally:
            examiner.close()
        assert in_worker == (signal.SIG_DFL, signal.SIG_IGN)
        for _ in range(3):
            assert _audit(ledger, workers=2).ok
    finally:
        signal.signal(signal.SIGTERM, previous)


def _handlers() -> tuple[object, object]:
    return signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)


def test_workers_inherit_the_parents_objects_frozen_and_the_audit_unfreezes_them_after(
    ledger: LedgerFixture,
) -> None:
    """Frozen, the inherited objects stay on pages the processes share: a full collection in
    any of them would otherwise copy those pages (the audit's memory grew by a third at 10^6)."""
    gc.unfreeze()  # a known start: nothing frozen in this process
    examiner = _Examiner(ledger.node.registry, 2)
    assert examiner.pool is not None
    try:
        assert gc.get_freeze_count() > 0
        assert examiner.pool.apply(gc.get_freeze_count) > 0
    finally:
        examiner.close()
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_its_own_objects_keeps_them_frozen(ledger: LedgerFixture) -> None:
    gc.freeze()  # as a server does at start-up (freeze_startup_objects)
    try:
        examiner = _Examiner(ledger.node.registry, 2)
        examiner.close()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_pool_that_cannot_start_leaves_nothing_frozen(
    ledger: LedgerFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork(*args: object, **kwargs: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    gc.unfreeze()
    monkeypatch.setattr(multiprocessing.context.ForkContext, "Pool", no_fork)
    with pytest.raises(OSError, match="temporarily unavailable"):
        _Examiner(ledger.node.registry, 2)
    assert gc.get_freeze_count() == 0
