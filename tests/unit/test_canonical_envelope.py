"""The audit's fast path reads an entry as the strict path does: `canonical_envelope(raw)` is
the envelope `parse_envelope` makes when `raw` are its canonical bytes and None for every input
the strict path refuses or finds non-canonical; `parse_presumed_canonical` is the strict parse
whenever its value re-encodes to the same bytes; the fast encoder writes what `json.dumps`
writes. The oracle is the strict path as it was before the fast one existed."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.core.canonical import (
    MAX_DEPTH,
    _plain_json,
    canonical_bytes,
    parse_presumed_canonical,
    parse_strict,
)
from ledger.core.envelope import (
    Envelope,
    canonical_envelope,
    envelope_from_checked,
    envelope_from_dict,
    parse_envelope,
    sign_envelope,
)
from ledger.core.keys import Signer
from ledger.errors import InvalidEnvelope, LedgerError

SIGNER = Signer.generate("sealchain.test/org/fast-path")


def _strict_envelope(raw: bytes) -> Envelope | None:
    """The audit's sequential check: strict parse, schema, canonical bytes."""
    try:
        envelope = envelope_from_dict(parse_strict(raw))
    except LedgerError:
        return None
    return envelope if envelope.raw == raw else None


def _same(raw: bytes) -> None:
    """The fast path accepts nothing the strict one refuses, reads what it accepts the same,
    and declines (None: the audit then takes the strict path) only where it must: a \\u escape
    or more than MAX_DEPTH brackets, which its cheap checks cannot judge."""
    fast, strict = canonical_envelope(raw), _strict_envelope(raw)
    if fast is None:
        assert strict is None or b"\\u" in raw or raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
        return
    assert fast == strict
    assert strict is not None and fast.unsigned_bytes == strict.unsigned_bytes


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
bodies = st.dictionaries(st.text(max_size=8), json_values, max_size=5)


def _signed(body: dict[str, Any]) -> bytes | None:
    try:
        return sign_envelope(SIGNER, type="sample.note", org="writer-a", body=body).raw
    except LedgerError:  # a body JCS cannot encode: nothing to sign
        return None


@st.composite
def mutated_entries(draw: st.DrawFn) -> bytes:
    raw = _signed(draw(bodies))
    if raw is None:
        return draw(st.binary(max_size=200))
    edit = draw(st.sampled_from(["none", "flip", "insert", "delete", "replace", "splice"]))
    if edit == "none":
        return raw
    at = draw(st.integers(0, len(raw) - 1))
    if edit == "flip":
        return raw[:at] + bytes([raw[at] ^ (1 << draw(st.integers(0, 7)))]) + raw[at + 1 :]
    if edit == "insert":
        return (
            raw[:at]
            + draw(st.sampled_from([b" ", b"\\u0041", b"{", b"[", b"\xff", b'"']))
            + raw[at:]
        )
    if edit == "delete":
        return raw[:at] + raw[at + 1 :]
    if edit == "replace":
        old, new = draw(
            st.sampled_from(
                [
                    (b'"v":1', b'"v":1.0'),
                    (b'"v":1', b'"v":01'),
                    (b'"v":1', b'"v":NaN'),
                    (b'"v":1}', b'"v":1,"v":1}'),
                    (b'"body":{', b'"body":{"a":1,"a":1,'),
                    (b'"body":{', b'"body":{"n":9007199254740993,'),
                    (b'"body":{', b'"body":{"n":1e400,'),
                    (b'"body":{', b'"body":{"s":"\\ud800",'),
                    (b'"body":{', b'"body":{"d":' + b"[" * 40 + b"]" * 40 + b","),
                    (b'"body":{', b'"body":{"d":' + b"[" * 31 + b"]" * 31 + b","),
                    (b'"org":"writer-a"', b'"org":"Writer-A"'),
                    (b"{", b"\xef\xbb\xbf{"),
                ]
            )
        )
        return raw.replace(old, new, 1)
    return raw + draw(st.sampled_from([b" ", b"\n", b"{}", b"x"]))


@settings(max_examples=400, deadline=None)
@given(mutated_entries())
@example(b"")
@example(b"{}")
@example(b"[]")
@example(b"null")
def test_fast_envelope_accepts_and_refuses_what_the_strict_path_does(raw: bytes) -> None:
    _same(raw)


@settings(max_examples=200, deadline=None)
@given(bodies)
def test_fast_envelope_reads_every_signed_entry_as_the_strict_path(body: dict[str, Any]) -> None:
    raw = _signed(body)
    if raw is not None:
        _same(raw)


@settings(max_examples=200, deadline=None)
@given(bodies, st.sampled_from(["", "AAAA", "sig"]))
def test_a_checked_entry_is_rebuilt_as_parsing_it_would(body: dict[str, Any], decoy: str) -> None:
    """The block writer's rebuild: the same envelope, unsigned bytes and tx_id as the full
    parse, for every entry a worker can send, a body holding its own "sig" member included."""
    raw = _signed({**body, "sig": decoy} if decoy else body)
    if raw is None:
        return
    rebuilt, parsed = envelope_from_checked(raw), parse_envelope(raw)
    assert rebuilt == parsed
    assert rebuilt.unsigned_bytes == parsed.unsigned_bytes
    assert rebuilt.signed_message() == parsed.signed_message()


@pytest.mark.parametrize("raw", [b"", b"[]", b'{"body":{}}', b"not json"])
def test_what_is_not_shaped_like_an_entry_is_not_rebuilt(raw: bytes) -> None:
    with pytest.raises(InvalidEnvelope):
        envelope_from_checked(raw)


SIG_REFUSED = "its signature is not the standard base64 of 64 bytes"


def test_a_body_holding_the_entrys_own_signature_member_is_cut_at_the_right_one() -> None:
    """The one "sig" member to cut is the envelope's, even when the body holds the same bytes
    (the rebuild does not verify the signature, so such bytes can reach it)."""
    raw = _signed({"a": 1})
    assert raw is not None
    value = json.loads(raw)
    decoy = envelope_from_dict({**value, "body": {"a": 1, "sig": value["sig"]}})
    assert b',"sig":"' + value["sig"].encode() + b'"}' in decoy.raw  # the body's own copy
    rebuilt = envelope_from_checked(decoy.raw)
    assert rebuilt == decoy
    assert rebuilt.unsigned_bytes == decoy.unsigned_bytes
    assert rebuilt.tx_id == decoy.tx_id == hashlib.sha256(decoy.unsigned_bytes).hexdigest()


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b'"sig":"', b'"sig": "', "its last members are not canonical"),
        (b'"v":1}', b'"v":1 }', "its last members are not canonical"),
        (b'{"body":', b' {"body":', "not the members of an envelope"),
        (b'"sig":"', b'"sig":"*', SIG_REFUSED),
        (b'"sig":"', b'"sig":"AAAA', SIG_REFUSED),
        (b'"sig":"', '"sig":"é'.encode(), SIG_REFUSED),
    ],
)
def test_an_entry_out_of_canonical_form_is_not_rebuilt(old: bytes, new: bytes, reason: str) -> None:
    raw = _signed({"a": 1})
    assert raw is not None and raw.count(old) == 1
    with pytest.raises(InvalidEnvelope, match=f"^a checked entry was expected: {reason}$"):
        envelope_from_checked(raw.replace(old, new))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1,"a":1}',  # duplicate: the plain parse keeps one, the bytes keep two
        b'{"a":NaN}',
        b'{"a":9007199254740993}',
        b'{"a":1e400}',
        b'{"a":"\\ud800"}',
        b"[" * 33 + b"]" * 33,
        b"\xef\xbb\xbf{}",
        b'{"a":"\xff"}',
        b"1" * 5000,
    ],
)
def test_presumed_parse_never_stands_in_for_a_refusal(raw: bytes) -> None:
    """Whatever the cheap parse returns for input the strict parser refuses does not re-encode
    to the same bytes, or the cheap parse declines."""
    with pytest.raises(LedgerError):
        parse_strict(raw)
    value = parse_presumed_canonical(raw)
    if value is not None:
        with contextlib.suppress(LedgerError):  # or it cannot be encoded at all
            assert canonical_bytes(value) != raw


@pytest.mark.parametrize("raw", [b" {}", b"{} ", b'{"a": 1}', b'{"b":1,"a":2}', b'{"a":1.0}'])
def test_presumed_parse_of_strict_but_not_canonical_bytes_does_not_re_encode_to_them(
    raw: bytes,
) -> None:
    parse_strict(raw)
    value = parse_presumed_canonical(raw)
    assert value is None or canonical_bytes(value) != raw


json_texts = st.one_of(
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))),
    json_values.map(lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"))),
    json_values.map(lambda v: json.dumps(v)),
    st.text(alphabet='{}[]",:0123456789.eE-+ aunltrfsN\\', max_size=40),
)


@settings(max_examples=500, deadline=None)
@given(json_texts.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_presumed_parse_is_the_strict_parse_wherever_the_bytes_are_canonical(raw: bytes) -> None:
    value = parse_presumed_canonical(raw)
    if value is None:
        return
    try:
        canonical = canonical_bytes(value)
    except LedgerError:
        return
    if canonical == raw:
        assert parse_strict(raw) == value


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fast_encoder_writes_what_json_dumps_writes(value: Any) -> None:
    """orjson, where `canonical_bytes` uses it, against the standard library's encoder with
    JCS's separators and key order."""
    if _plain_json(value):
        expected = json.dumps(
            value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
        )
        try:
            encoded = expected.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: canonical_bytes refuses it
            with pytest.raises(LedgerError):
                canonical_bytes(value)
            return
        assert canonical_bytes(value) == encoded


def test_a_signature_with_stray_bits_after_its_last_digit_is_not_rebuilt() -> None:
    """64 bytes leave 4 bits of the last base64 digit unused; set, they decode to the same
    signature, but the bytes are not the canonical entry."""
    raw = _signed({"a": 1})
    assert raw is not None
    at = raw.index(b'==","ts"') - 1
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stray = alphabet[alphabet.index(raw[at]) + 1 : alphabet.index(raw[at]) + 2]
    changed = raw[:at] + stray + raw[at + 1 :]
    assert base64.b64decode(json.loads(changed)["sig"]) == base64.b64decode(json.loads(raw)["sig"])
    with pytest.raises(InvalidEnvelope, match=f"{SIG_REFUSED}$"):
        envelope_from_checked(changed)


@settings(max_examples=300, deadline=None)
@given(mutated_entries())
def test_a_rebuilt_entry_is_refused_only_as_invalid_and_read_as_the_strict_parse(
    raw: bytes,
) -> None:
    """Whatever the bytes, the rebuild raises nothing but InvalidEnvelope (anything else would
    fail a worker's whole request), and where the strict parse accepts them it reads the same.
    It checks no more than their shape, so bytes the strict parse refuses may pass: only the
    service's own workers hand it bytes."""
    try:
        rebuilt = envelope_from_checked(raw)
    except InvalidEnvelope:
        return
    strict = _strict_envelope(raw)
    if strict is not None:
        assert rebuilt == strict
        assert rebuilt.unsigned_bytes == strict.unsigned_bytes
