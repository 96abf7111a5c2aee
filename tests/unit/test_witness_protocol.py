"""C2SP tlog-witness add-checkpoint: a witness cosigns what extends what it cosigned before,
answers 400/403/404/409/422 as the spec says, advances by compare-and-swap, and refuses a log
that rewrote its history (a changed entry, the tree recomputed, the checkpoint re-signed)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine

from ledger.core import merkle
from ledger.core.keys import SIG_COSIGNATURE_V1, Signer
from ledger.core.note import Checkpoint, parse_note, sign_note, verified_signers
from ledger.witness.protocol import SIZE_TYPE, Cosigned, Witness
from ledger.witness.state import DatabaseState

ORIGIN = "sealchain.test/log"
LOG = Signer.generate(ORIGIN)
WITNESS = Signer.generate("witness.test/w1", SIG_COSIGNATURE_V1)


class Log:
    """A log's leaves and its signed checkpoints, as an honest (or rewriting) operator makes."""

    def __init__(self, leaves: list[bytes], signer: Signer = LOG) -> None:
        self.leaves, self.signer = leaves, signer

    def nodes(self) -> dict[merkle.Coord, bytes]:
        hashes = [merkle.leaf_hash(d) for d in self.leaves]
        found: dict[merkle.Coord, bytes] = {(0, i): h for i, h in enumerate(hashes)}
        level = 0
        while (2 << level) <= len(hashes):
            for i in range(len(hashes) >> (level + 1)):
                left, right = found[(level, 2 * i)], found[(level, 2 * i + 1)]
                found[(level + 1, i)] = merkle.node_hash(left, right)
            level += 1
        return found

    def checkpoint(self, size: int) -> str:
        root = merkle.root_from_nodes(size, self.nodes()) if size else merkle.EMPTY_ROOT
        return str(sign_note(Checkpoint(ORIGIN, size, root).text(), [self.signer]))

    def request(self, old: int, size: int) -> bytes:
        proof = merkle.consistency_proof(old, size, self.nodes()) if 0 < old < size else []
        lines = [f"old {old}", *(base64.b64encode(h).decode() for h in proof)]
        return ("\n".join(lines) + "\n\n" + self.checkpoint(size)).encode()


def _leaves(n: int, salt: str = "") -> list[bytes]:
    return [hashlib.sha256(f"{salt}{i}".encode()).digest() for i in range(n)]


@pytest.fixture
def witness(tmp_path: Path) -> Witness:
    state = DatabaseState(create_engine(f"sqlite:///{tmp_path / 'witness.db'}"))
    return Witness(WITNESS, {ORIGIN: [LOG.verifier]}, state, clock=lambda: 1_764_800_000)


def test_a_growing_log_is_cosigned_and_the_cosignature_verifies(witness: Witness) -> None:
    log = Log(_leaves(100))
    for old, size in ((0, 10), (10, 37), (37, 37), (37, 100)):
        answer = witness.add_checkpoint(log.request(old, size))
        assert answer.status == 200, answer.body
        assert answer.body.startswith("\u2014 witness.test/w1 ") and answer.body.endswith("\n")
        cosigned = parse_note(log.checkpoint(size) + answer.body)
        assert verified_signers(cosigned, [WITNESS.verifier]) == [WITNESS.verifier]
    assert witness.state.latest(ORIGIN) == Cosigned(100, merkle.root_from_nodes(100, log.nodes()))


def test_a_wrong_old_size_is_409_with_the_cosigned_size(witness: Witness) -> None:
    log = Log(_leaves(50))
    assert witness.add_checkpoint(log.request(0, 20)).status == 200
    for old in (0, 19, 21):
        answer = witness.add_checkpoint(log.request(old, 50))
        assert (answer.status, answer.body, answer.content_type) == (409, "20\n", SIZE_TYPE)


def test_a_rewritten_history_is_refused_by_the_witness(witness: Witness) -> None:
    honest = Log(_leaves(64))
    assert witness.add_checkpoint(honest.request(0, 40)).status == 200
    # The operator changes entry 7, recomputes the tree and re-signs with the log key.
    forged = Log([*honest.leaves[:7], b"changed", *honest.leaves[8:]])
    answer = witness.add_checkpoint(forged.request(40, 64))
    assert answer.status == 422 and "not an extension" in answer.body
    same_size = witness.add_checkpoint(forged.request(40, 40))
    assert same_size.status == 422 and "FORK" in same_size.body
    assert witness.state.latest(ORIGIN) is not None
    assert witness.state.latest(ORIGIN).size == 40  # type: ignore[union-attr]
    assert witness.add_checkpoint(honest.request(40, 64)).status == 200


def test_signatures_and_origins_as_the_spec_says(witness: Witness) -> None:
    stranger = Log(_leaves(5), Signer.generate(ORIGIN))  # same name, another key: ignored
    assert witness.add_checkpoint(stranger.request(0, 5)).status == 403
    good = Log(_leaves(5)).request(0, 5)
    # A signature by the log's key name and id that does not verify: a malformed note.
    note_at = good.index(b"\n\n") + 2
    tampered = good[:note_at] + good[note_at:].replace(b"\n5\n", b"\n4\n", 1)
    assert witness.add_checkpoint(tampered).status == 403
    other = Witness(WITNESS, {}, witness.state, clock=lambda: 1)
    assert other.add_checkpoint(good).status == 404


def test_proof_rules_for_size_zero_and_old_above_new(witness: Witness) -> None:
    log = Log(_leaves(8))
    assert witness.add_checkpoint(log.request(9, 8)).status == 400
    bogus = b"old 0\n" + base64.b64encode(bytes(32)) + b"\n\n" + log.checkpoint(8).encode()
    assert witness.add_checkpoint(bogus).status == 422
    empty = str(sign_note(Checkpoint(ORIGIN, 0, bytes(32)).text(), [LOG]))
    assert witness.add_checkpoint(b"old 0\n\n" + empty.encode()).status == 422
    assert witness.add_checkpoint(log.request(0, 0)).status == 200


def test_the_state_advances_by_compare_and_swap(witness: Witness) -> None:
    log = Log(_leaves(30))
    assert witness.add_checkpoint(log.request(0, 10)).status == 200
    start = witness.state.latest(ORIGIN)
    assert witness.add_checkpoint(log.request(10, 20)).status == 200
    # A request that read size 10 before the one above committed loses the swap.
    assert not witness.state.swap(ORIGIN, start, Cosigned(30, bytes(32)), "x")
    assert witness.state.latest(ORIGIN).size == 20  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [b"", b"old 01\n\n", b"new 0\n\n", b"old 0\n", b"old 0\nnot base64!\n\nx\n", b"\xff\xfe",
     b"old 0\n" + base64.b64encode(b"short") + b"\n\n", b"old 0\n\nno signatures\n"],
)  # fmt: skip
def test_malformed_requests_are_400(witness: Witness, body: bytes) -> None:
    assert witness.add_checkpoint(body).status == 400


@given(st.binary(max_size=400))
def test_no_input_makes_it_raise_or_cosign(body: bytes) -> None:
    class Memory:
        def latest(self, origin: str) -> Cosigned | None:
            return None

        def swap(self, origin: str, old: object, new: Cosigned, note: str) -> bool:
            raise AssertionError("cosigned random bytes")

    witness = Witness(WITNESS, {ORIGIN: [LOG.verifier]}, Memory(), clock=lambda: 1)
    assert witness.add_checkpoint(body).status in (400, 403, 404, 409, 422)
