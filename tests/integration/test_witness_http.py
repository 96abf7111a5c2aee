"""The witness over HTTP against the real log's checkpoints and consistency proofs: it cosigns
each new checkpoint, the cosignature meets a policy's quorum, and it refuses to go back."""

from __future__ import annotations

import base64
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from ledger.api import create_app
from ledger.core.keys import SIG_COSIGNATURE_V1, Signer
from ledger.core.note import parse_note, verified_signers
from ledger.witness.app import witness_app
from ledger.witness.protocol import Witness
from ledger.witness.state import DatabaseState
from tests.support.ledgers import LedgerFixture


def _request(log: TestClient, old: int, size: int) -> bytes:
    note = log.get("/v1/checkpoint", params={"size": size}, headers={"accept": "text/plain"}).text
    proof: list[str] = []
    if 0 < old < size:
        proof = log.get("/v1/proofs/consistency", params={"first": old, "second": size}).json()[
            "proof"
        ]
    return ("\n".join([f"old {old}", *proof]) + "\n\n" + note).encode()


def test_the_witness_cosigns_the_logs_checkpoints_as_they_grow(
    ledger: LedgerFixture, tmp_path: Path
) -> None:
    ledger.fill(30, per_block=10)
    policy = ledger.node.log_policy
    (log_key,) = policy.logs
    signer = Signer.generate("witness.test/pboc", SIG_COSIGNATURE_V1)
    state = DatabaseState(create_engine(f"sqlite:///{tmp_path / 'w.db'}"))
    witness = Witness(signer, {log_key.name: [log_key]}, state, clock=lambda: 1_764_800_000)
    with (
        TestClient(create_app(ledger.settings, node=ledger.node)) as log,
        TestClient(witness_app(witness)) as peer,
    ):
        size = int(log.get("/healthz").json()["size"])
        assert signer.vkey in peer.get("/").text and log_key.name in peer.get("/").text
        old = 0
        for at in (size - 20, size - 10, size):
            answer = peer.post("/add-checkpoint", content=_request(log, old, at))
            assert answer.status_code == 200, answer.text
            note_text = log.get(
                "/v1/checkpoint", params={"size": at}, headers={"accept": "text/plain"}
            ).text
            cosigned = parse_note(note_text + answer.text)
            assert verified_signers(cosigned, [signer.verifier]) == [signer.verifier]
            old = at
        # Going back to an older checkpoint is a conflict naming the size it cosigned.
        back = peer.post("/add-checkpoint", content=_request(log, size - 10, size))
        assert back.status_code == 409 and back.text == f"{size}\n"
        assert back.headers["content-type"].startswith("text/x.tlog.size")
        # A proof line that is not a hash, or a body too large, is refused before anything.
        bad = _request(log, size, size).replace(b"\n\n", b"\n" + base64.b64encode(b"x") + b"\n\n")
        assert peer.post("/add-checkpoint", content=bad).status_code == 400
        huge = peer.post("/add-checkpoint", content=b"old 0\n" + b"A" * 200_000)
        assert huge.status_code == 413
