"""Checking a batch's signatures on every core at once.

An Ed25519 verification is most of what a batch costs before its block (docs/benchmarks.md),
and the `cryptography` library lets go of the GIL while it verifies: two threads verify twice
as many signatures a second as one. A batch's signatures are checked here ahead of its other
steps, in as many slices as the machine has cores; a signature found bad is left to the
sequential check, which answers it with the error it always did.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ledger.core.envelope import Envelope
from ledger.core.keys import Verifier
from ledger.errors import BadSignature

THREADS = os.cpu_count() or 1
# Below this, handing slices to threads costs more than the second core gains.
PARALLEL_FROM = 64

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    # A forked child (the audit's workers) has none of its parent's threads, and the lock may
    # have been held by one of them at the fork.
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="verify")
        return _pool


def _good(pairs: Sequence[tuple[Envelope, Verifier]], start: int, stop: int) -> list[int]:
    good = []
    for n in range(start, stop):
        envelope, verifier = pairs[n]
        try:
            envelope.verify_signature(verifier)
        except BadSignature:
            continue
        good.append(n)
    return good


def good_signatures(pairs: Sequence[tuple[Envelope, Verifier]]) -> set[int] | None:
    """The positions in `pairs` whose envelope `verifier` signed, checked on every core; None
    when there are too few to be worth threads (the caller checks them one by one)."""
    if len(pairs) < PARALLEL_FROM or THREADS < 2:
        return None
    step = -(-len(pairs) // THREADS)
    slices = [(pairs, start, min(start + step, len(pairs))) for start in range(0, len(pairs), step)]
    return {n for good in _shared_pool().map(lambda s: _good(*s), slices) for n in good}
