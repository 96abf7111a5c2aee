"""ledger.service.signatures: a batch's signatures checked on every core find exactly the
signatures that a one-by-one check finds good, whatever their order and wherever bad ones are."""

from __future__ import annotations

import dataclasses
import threading
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.envelope import Envelope, sign_envelope
from ledger.core.keys import Signer, Verifier
from ledger.errors import BadSignature
from ledger.service import signatures

SIGNERS = [Signer.from_seed(f"org-{n}", bytes([n + 1]) * 32) for n in range(3)]
# Made once: signing is what a test would otherwise spend its time on.
ENVELOPES = [
    sign_envelope(SIGNERS[n % 3], type="sample.note", org=f"org-{n % 3}", body={"text": str(n)})
    for n in range(200)
]


def _sequential(pairs: list[tuple[Envelope, Verifier]]) -> set[int]:
    good = set()
    for n, (envelope, verifier) in enumerate(pairs):
        try:
            envelope.verify_signature(verifier)
        except BadSignature:
            continue
        good.add(n)
    return good


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(signatures.PARALLEL_FROM, len(ENVELOPES)),
    tampered=st.sets(st.integers(0, len(ENVELOPES) - 1), max_size=20),
    wrong_key=st.sets(st.integers(0, len(ENVELOPES) - 1), max_size=5),
)
def test_finds_what_a_one_by_one_check_finds(
    count: int, tampered: set[int], wrong_key: set[int]
) -> None:
    pairs = []
    for n in range(count):
        envelope = ENVELOPES[n]
        if n in tampered:  # one bit of the signature flipped: Ed25519 itself refuses it
            envelope = dataclasses.replace(
                envelope, sig=bytes([envelope.sig[0] ^ 1]) + envelope.sig[1:]
            )
        signer = SIGNERS[(n + (1 if n in wrong_key else 0)) % 3]  # another member's key
        pairs.append((envelope, signer.verifier))
    # Two threads whatever this machine has: the slices, not the cores, are what is tested.
    with mock.patch.object(signatures, "THREADS", 2):
        found = signatures.good_signatures(pairs)
    assert found == _sequential(pairs)
    assert found == set(range(count)) - tampered - wrong_key


def test_too_few_are_left_to_the_caller() -> None:
    pairs = [(e, SIGNERS[n % 3].verifier) for n, e in enumerate(ENVELOPES)]
    assert signatures.good_signatures(pairs[: signatures.PARALLEL_FROM - 1]) is None


def test_slices_run_on_the_shared_threads(monkeypatch) -> None:
    monkeypatch.setattr(signatures, "THREADS", 2)
    names: set[str] = set()
    real = signatures._good

    def spy(*args):  # type: ignore[no-untyped-def]
        names.add(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(signatures, "_good", spy)
    pairs = [(e, SIGNERS[n % 3].verifier) for n, e in enumerate(ENVELOPES)]
    assert signatures.good_signatures(pairs) == set(range(len(ENVELOPES)))
    assert names and all(name.startswith("verify") for name in names)
