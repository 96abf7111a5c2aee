"""Wycheproof Ed25519 verification edge cases (malleable S, wrong lengths, small-order points...).

`keys.Verifier.verify` is what every envelope, note and cosignature check goes through, so it
must agree with Wycheproof on every case: True exactly for "valid".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.core.keys import Verifier

VECTOR_FILE = Path(__file__).resolve().parents[1] / "vectors" / "wycheproof" / "ed25519_test.json"
SUITE: dict[str, Any] = json.loads(VECTOR_FILE.read_text())
CASES = [
    (group["publicKey"]["pk"], test) for group in SUITE["testGroups"] for test in group["tests"]
]


def test_every_wycheproof_case_is_collected() -> None:
    assert SUITE["algorithm"] == "EDDSA"
    assert len(CASES) == SUITE["numberOfTests"] == 151
    assert len({test["tcId"] for _, test in CASES}) == len(CASES)


def test_no_case_is_merely_acceptable() -> None:
    # "acceptable" cases may go either way; there are none today, so every result is pinned.
    results = [test["result"] for _, test in CASES]
    assert results.count("acceptable") == 0
    assert results.count("valid") + results.count("invalid") == len(CASES)


@pytest.mark.parametrize(
    ("pk_hex", "case"), CASES, ids=[f"tcId{test['tcId']}" for _, test in CASES]
)
def test_wycheproof_case(pk_hex: str, case: dict[str, Any]) -> None:
    verifier = Verifier("wycheproof.example/ed25519", bytes.fromhex(pk_hex))
    verified = verifier.verify(bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"]))
    if case["result"] == "acceptable":
        assert isinstance(verified, bool)
    else:
        assert verified is (case["result"] == "valid"), case["comment"] or case["flags"]
