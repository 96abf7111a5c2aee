"""Properties of the evidence app's small formats: deposit numbers, text codes, bodies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from apps.evidence import builders
from apps.evidence.models import Custody, Deposit, Stamp
from apps.evidence.numbers import deposit_index, deposit_number
from apps.evidence.similarity import NotAText, code_bits, similarity, text_code
from ledger.documents.signing import validate_pdf
from ledger.timestamping.pki import make_pki


@given(st.integers(min_value=0, max_value=2**53 - 1))
def test_a_deposit_number_is_its_index(index: int) -> None:
    number = deposit_number(index)
    assert deposit_index(number) == index
    assert number.startswith("EV-") and len(number) >= 11


@given(st.text(max_size=30) | st.from_regex(r"EV-[0-9]{6,18}\n?", fullmatch=True))
def test_only_the_canonical_form_names_a_deposit(text: str) -> None:
    index = deposit_index(text)
    assert index is None or deposit_number(index) == text
    assert deposit_index("EV-000000042") is None and deposit_index("EV-00000042") == 42


@given(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1))
def test_similarity_is_symmetric_and_one_only_for_equal_codes(a: int, b: int) -> None:
    assert similarity(a, b) == similarity(b, a)
    assert similarity(a, a) == 1.0
    assert (similarity(a, b) == 1.0) == (a == b)


def test_a_text_code_round_trips_and_short_texts_are_refused() -> None:
    code = text_code("雨是从傍晚开始下的。" * 40)
    assert code.startswith("ISCC:EA")
    assert -(2**63) <= code_bits(code) < 2**63
    with pytest.raises(NotAText):
        text_code("too short")
    assert builders.text_code_of(b"\xff\xfe" * 500, "text/plain") is None
    assert builders.text_code_of(("word " * 100).encode(), "image/png") is None


def test_bodies_refuse_what_a_court_could_not_read() -> None:
    _, body = builders.deposit(b"x", title="t", media_type="text/plain", operator="o")
    Deposit.model_validate(body)
    for change in (
        {"sha256": "ABC"},
        {"title": "line\rbreak"},
        {"mediaType": "not a type"},
        {"capture": {**body["capture"], "method": "web-page"}},  # a web page needs its URL
        {"size": -1},
    ):
        with pytest.raises(ValidationError):
            Deposit.model_validate({**body, **change})
    with pytest.raises(ValidationError, match="hex digits"):
        Stamp.model_validate({"algorithm": "sha512", "digest": "ab" * 32, "client": "0" * 16})
    with pytest.raises(ValidationError, match="sealed"):
        Custody.model_validate({"case": "c-1", "event": "sealed", "deposit": "EV-00000001"})


@given(st.binary(max_size=2000))
def test_any_bytes_are_a_verdict_never_an_exception(data: bytes) -> None:
    verdict = validate_pdf(data, [CA])
    assert not verdict.ok and verdict.reason


CA = make_pki("test").ca_cert
