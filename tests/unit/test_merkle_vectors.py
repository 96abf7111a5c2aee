"""RFC 6962/9162 proof vectors from transparency-dev/merkle (tests/vectors/merkle).

Each JSON file is one case: `wantErr: false` must verify, `wantErr: true` must raise ProofError.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.core import merkle
from ledger.errors import ProofError

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "merkle"
INCLUSION = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "consistency").rglob("*.json"))


def _case_id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def _load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text())
    return case


def _proof(case: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(p) for p in case["proof"] or []]  # proof: null means []


def test_vector_files_are_all_present() -> None:
    # A missing or moved vectors directory must fail loudly, not parametrize to nothing.
    assert len(INCLUSION) == 49
    assert len(CONSISTENCY) == 43
    for path in INCLUSION + CONSISTENCY:
        assert isinstance(_load(path)["wantErr"], bool), path


@pytest.mark.parametrize("path", INCLUSION, ids=_case_id)
def test_inclusion_vector(path: Path) -> None:
    case = _load(path)
    args = (
        case["leafIdx"],
        case["treeSize"],
        base64.b64decode(case["leafHash"]),
        _proof(case),
        base64.b64decode(case["root"]),
    )
    if case["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_case_id)
def test_consistency_vector(path: Path) -> None:
    case = _load(path)
    args = (
        case["size1"],
        case["size2"],
        _proof(case),
        base64.b64decode(case["root1"]),
        base64.b64decode(case["root2"]),
    )
    if case["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def test_vectors_include_both_outcomes() -> None:
    # Guards against a vector set that is all happy paths (or all failures) after an update.
    outcomes = {_load(p)["wantErr"] for p in INCLUSION} | {_load(p)["wantErr"] for p in CONSISTENCY}
    assert outcomes == {True, False}
