"""The block writer's answers on the wire: every outcome a worker gets back is the one the writer
had, whatever error class, detail, extra or receipt it carries."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from ledger.core.envelope import sign_envelope
from ledger.core.keys import Signer
from ledger.core.receipt import Receipt
from ledger.errors import LedgerError, ReceiptInvalid
from ledger.service.block_writer import decode_outcome, encode_outcome
from ledger.service.pipeline import Candidate
from ledger.service.sequencer import Accepted


def _every_error_class(cls: type[LedgerError] = LedgerError) -> list[type[LedgerError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _every_error_class(sub)
    return found


# ReceiptInvalid takes a step number first; a block writer never answers with it.
ERRORS = [c for c in _every_error_class() if c is not ReceiptInvalid]
SIGNER = Signer.generate("writer-a")
ENVELOPE = sign_envelope(SIGNER, type="sample.note", org="writer-a", body={"text": "x"})
CANDIDATE = Candidate(ENVELOPE, None, None)  # type: ignore[arg-type]  # only its envelope is read

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _through_the_wire(value: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = orjson.loads(orjson.dumps(value))
    return decoded


@given(
    st.sampled_from(ERRORS),
    st.text(max_size=200),
    st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), json_values, max_size=4),
)
def test_a_refusal_comes_back_as_the_same_error(
    cls: type[LedgerError], detail: str, extra: dict[str, Any]
) -> None:
    error = cls(detail, **extra)
    back = decode_outcome(_through_the_wire(encode_outcome(error)), CANDIDATE)
    # The class that names the code: one that keeps its parent's code answers as the parent.
    assert type(back) is next(c for c in cls.__mro__ if "code" in vars(c))
    assert isinstance(back, LedgerError)
    assert (back.code, back.status, back.detail, back.extra) == (
        cls.code,
        cls.status,
        detail,
        extra,
    )


@given(
    index=st.integers(0, 2**40),
    height=st.integers(0, 2**40),
    size=st.integers(1, 2**40),
    proof=st.none() | st.lists(st.binary(min_size=32, max_size=32), max_size=40),
    checkpoint=st.text(min_size=1, max_size=300),
)
def test_an_acceptance_comes_back_with_its_receipt(
    index: int, height: int, size: int, proof: list[bytes] | None, checkpoint: str
) -> None:
    receipt = None
    if proof is not None:
        receipt = Receipt(ENVELOPE.as_dict(), index, tuple(proof), checkpoint)
    accepted = Accepted(ENVELOPE.tx_id, index, height, size, receipt, "2026-12-05T02:00:00Z")
    assert decode_outcome(_through_the_wire(encode_outcome(accepted)), CANDIDATE) == accepted


def test_an_unknown_code_is_a_storage_error_not_a_crash() -> None:
    value = {"code": "from-a-newer-writer", "detail": "what it said", "extra": {}}
    back = decode_outcome(value, CANDIDATE)
    assert isinstance(back, LedgerError) and back.status == 503 and back.detail == "what it said"
