"""Strict JSON parsing and the one canonical encoder (docs/architecture.md §2, RFC 8785)."""

from __future__ import annotations

import json
import random
import struct
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.canonical import (
    MAX_DEPTH,
    MAX_ENTRY_BYTES,
    TooManyItems,
    _plain_json,
    canonical_bytes,
    parse_strict,
    parse_strict_array,
)
from ledger.errors import InputError, MalformedJSON, PayloadTooLarge

SAFE = 2**53 - 1


def _rejects(data: bytes, error: type[InputError] = MalformedJSON) -> InputError:
    with pytest.raises(error) as caught:
        parse_strict(data)
    assert caught.value.code == error.code
    assert type(caught.value) is error
    return caught.value


# --- ambiguity a second parser could read differently -------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":2}',
        b'{"a":1,"b":{"c":1,"c":1}}',
        b'[{"x":true,"x":true}]',
        b'{"a":1,"\\u0061":2}',  # the same key spelled two ways
    ],
)
def test_rejects_duplicate_keys(data: bytes) -> None:
    # Parsers disagree on which duplicate wins; a signer and a verifier could read two bodies.
    _rejects(data)


@pytest.mark.parametrize(
    "data", [b"NaN", b"Infinity", b"-Infinity", b'{"x":NaN}', b"[Infinity]", b"[-Infinity]"]
)
def test_rejects_nan_and_infinity(data: bytes) -> None:
    _rejects(data)


@pytest.mark.parametrize("data", [b"1e400", b"-1e400", b"[1e309]"])
def test_rejects_numbers_that_overflow_a_double(data: bytes) -> None:
    _rejects(data)


@pytest.mark.parametrize("value", [SAFE, -SAFE, 0, -1, 1])
def test_accepts_integers_up_to_exactly_2_pow_53_minus_1(value: int) -> None:
    assert parse_strict(str(value).encode()) == value
    assert parse_strict(f'{{"n":{value}}}'.encode()) == {"n": value}


@pytest.mark.parametrize(
    "text", [str(SAFE + 1), str(-SAFE - 1), str(2**64), "12345678901234567890", "-" + "9" * 30]
)
def test_rejects_integers_beyond_2_pow_53_minus_1(text: str) -> None:
    # Beyond 2^53 a JavaScript verifier silently rounds, so it would hash a different number.
    _rejects(text.encode())
    _rejects(f"[{text}]".encode())


def test_rejects_enormous_integer_without_converting_it() -> None:
    _rejects(b"9" * 60_000)


@pytest.mark.parametrize(
    "data",
    [
        b'"\xff"',
        b'"\xc0\xaf"',  # overlong '/'
        b'"\xed\xa0\x80"',  # a surrogate encoded as UTF-8
        b'"\xe2\x82"',  # truncated sequence
        b'{"k\x80":1}',
    ],
)
def test_rejects_invalid_utf8(data: bytes) -> None:
    _rejects(data)


@pytest.mark.parametrize(
    "data", [b'"\\ud800"', b'"\\udc00"', b'["a\\ud83d"]', b'{"\\udfff":1}', b'"\\ude00\\ud83d"']
)
def test_rejects_lone_surrogate_escapes(data: bytes) -> None:
    # A lone surrogate has no UTF-8 form, so the entry could not be canonicalised or hashed.
    _rejects(data)


def test_accepts_surrogate_pair_escape_as_one_character() -> None:
    assert parse_strict(b'"\\ud83d\\ude00"') == "\U0001f600"


def _nested(depth: int, open_: str = "[", close: str = "]") -> bytes:
    return (open_ * depth + close * depth).encode()


def _nested_objects(depth: int) -> bytes:
    return ('{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)).encode()


def test_accepts_nesting_of_exactly_32() -> None:
    assert MAX_DEPTH == 32
    parse_strict(_nested(32))
    parse_strict(_nested_objects(32))
    parse_strict(b'{"a":' + _nested(31) + b"}")


def test_rejects_nesting_of_33() -> None:
    _rejects(_nested(33))
    _rejects(_nested_objects(33))
    _rejects(b'{"a":' + _nested(32) + b"}")


def test_rejects_hostile_nesting_without_recursion_error() -> None:
    _rejects(_nested(50_000)[: MAX_ENTRY_BYTES - 10])
    _rejects(_nested(30_000))


def test_accepts_input_of_the_largest_size_an_entry_bundle_holds() -> None:
    # 64 KiB less one byte: the largest length a C2SP tlog-tiles bundle's uint16 prefix says.
    data = b'"' + b"x" * (MAX_ENTRY_BYTES - 2) + b'"'
    assert len(data) == 0xFFFF
    assert parse_strict(data) == "x" * (MAX_ENTRY_BYTES - 2)


def test_rejects_input_of_64_kib_and_over_as_payload_too_large() -> None:
    data = b'"' + b"x" * (MAX_ENTRY_BYTES - 1) + b'"'
    error = _rejects(data, PayloadTooLarge)
    assert error.code == "payload-too-large"
    assert error.status == 413


def test_size_limit_is_checked_before_parsing() -> None:
    # Garbage over the limit is refused for its size: no parser time is spent on it.
    _rejects(b"\xff" * (MAX_ENTRY_BYTES + 1), PayloadTooLarge)


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf{}", b'\xef\xbb\xbf"x"'])
def test_rejects_byte_order_mark(data: bytes) -> None:
    _rejects(data)


@pytest.mark.parametrize(
    "data", [b"", b"{", b"{} {}", b"{'a':1}", b'{"a":1,}', b"[01]", b"tru", b'"\\x41"', b'"\t"']
)
def test_rejects_malformed_json(data: bytes) -> None:
    _rejects(data)


def test_rejects_text_instead_of_bytes() -> None:
    with pytest.raises(MalformedJSON):
        parse_strict("{}")  # type: ignore[arg-type]


def test_malformed_json_is_a_client_error() -> None:
    assert issubclass(MalformedJSON, InputError)
    assert MalformedJSON.status == 400
    assert MalformedJSON.code == "malformed-json"


# --- the encoder --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        2**53,
        -(2**53),
        {1: "non-string key"},
        "\ud800",
        {"\udc00": 1},
        b"bytes",
        {1.5},
    ],
)
def test_canonical_bytes_refuses_what_jcs_cannot_encode(value: Any) -> None:
    with pytest.raises(MalformedJSON):
        canonical_bytes(value)


def test_rfc8785_example_from_section_3_2_2() -> None:
    data = (
        b'{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        b' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        b' "literals": [null, true, false]}'
    )
    expected = (
        b'{"literals":[null,true,false],'
        b'"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        b'"string":"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_bytes(parse_strict(data)) == expected


def test_rfc8785_sorts_keys_by_utf16_code_units() -> None:
    # Section 3.2.3: U+1F600 is the surrogate pair D83D DE00, so it sorts before U+FB33 in UTF-16
    # even though its code point is larger; sorting by code point or UTF-8 would differ.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = [k for k in json.loads(canonical_bytes(value))]
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize(
    ("ieee", "expected"),
    [  # RFC 8785 appendix B
        ("0000000000000000", b"0"),
        ("8000000000000000", b"0"),
        ("0000000000000001", b"5e-324"),
        ("8000000000000001", b"-5e-324"),
        ("7fefffffffffffff", b"1.7976931348623157e+308"),
        ("ffefffffffffffff", b"-1.7976931348623157e+308"),
        ("4340000000000000", b"9007199254740992"),
        ("c340000000000000", b"-9007199254740992"),
        ("4430000000000000", b"295147905179352830000"),
        ("44b52d02c7e14af5", b"9.999999999999997e+22"),
        ("44b52d02c7e14af6", b"1e+23"),
        ("44b52d02c7e14af7", b"1.0000000000000001e+23"),
        ("444b1ae4d6e2ef4e", b"999999999999999700000"),
        ("444b1ae4d6e2ef4f", b"999999999999999900000"),
        ("444b1ae4d6e2ef50", b"1e+21"),
        ("3eb0c6f7a0b5ed8c", b"9.999999999999997e-7"),
        ("3eb0c6f7a0b5ed8d", b"0.000001"),
        ("41b3de4355555553", b"333333333.3333332"),
        ("41b3de4355555554", b"333333333.33333325"),
        ("41b3de4355555555", b"333333333.3333333"),
        ("41b3de4355555556", b"333333333.3333334"),
        ("41b3de4355555557", b"333333333.33333343"),
        ("becbf647612f3696", b"-0.0000033333333333333333"),
        ("43143ff3c1cb0959", b"1424953923781206.2"),
    ],
)
def test_rfc8785_number_serialisation(ieee: str, expected: bytes) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(ieee))
    if SAFE < abs(value) < 1e21:
        # JCS writes these as integer literals beyond 2^53-1, which parse_strict refuses; the
        # encoder may refuse them too, but must never spell them differently from RFC 8785.
        try:
            encoded = canonical_bytes(value)
        except MalformedJSON:
            return
        assert encoded == expected
    else:
        assert canonical_bytes(value) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"1e21", b"1e+21"),
        (b"1E21", b"1e+21"),
        (b"1E-7", b"1e-7"),
        (b"0.0000001", b"1e-7"),
        (b"-0", b"0"),
        (b"-0.0", b"0"),
        (b"1.0", b"1"),
        (b"100E-2", b"1"),
        (b"0.1", b"0.1"),
        (b'"\\u00e9\\/\\b\\f\\n\\r\\t\\u001f"', b'"\xc3\xa9/\\b\\f\\n\\r\\t\\u001f"'),
        (b'{ "b" : [ 1 , 2 ] , "a" : { } }', b'{"a":{},"b":[1,2]}'),
    ],
)
def test_parse_then_encode_known_answers(data: bytes, expected: bytes) -> None:
    assert canonical_bytes(parse_strict(data)) == expected


@pytest.mark.parametrize("data", [b"1e20", b"9007199254740992.0", b"-123456789012345678.0"])
def test_canonical_form_of_an_accepted_number_is_itself_accepted(data: bytes) -> None:
    # These parse as finite doubles, but JCS writes doubles below 1e21 as plain integers, which
    # parse_strict then refuses: an entry the ledger accepted could never be re-read (audit,
    # tlog-proof receipts).  Either refuse the doubles on input or accept the encoder's output.
    try:
        accepted = parse_strict(data)
    except MalformedJSON:
        return  # refusing the number on input is one fix
    assert parse_strict(canonical_bytes(accepted)) == accepted


# --- properties ---------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-SAFE, SAFE),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=8), children, max_size=5),
    ),
    max_leaves=25,
)
# Doubles at or beyond 2^53 hit the defect pinned by the test above; kept out of the
# order/whitespace property so it tests its own claim.
safe_floats = st.floats(allow_nan=False, allow_infinity=False, min_value=-SAFE, max_value=SAFE)
safe_json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-SAFE, SAFE), safe_floats, st.text(max_size=20)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=8), children, max_size=5),
    ),
    max_leaves=25,
)


@given(json_values)
def test_canonical_encoding_is_stable_through_strict_parsing(value: Any) -> None:
    # Whatever the encoder emits, the strict parser must read back to the same bytes; otherwise
    # the ledger could sign or store an entry that no verifier can re-read.
    try:
        encoded = canonical_bytes(value)
    except MalformedJSON:
        return  # the encoder may refuse a value outright; it must not emit unreadable bytes
    assert canonical_bytes(parse_strict(encoded)) == encoded


def test_encoder_accepts_ordinary_finite_floats() -> None:
    # Keeps the property above honest: refusing every float would satisfy it vacuously.
    for value in (0.5, -1.25, 1e-7, 1e21, 1e300, 5e-324, 123456.789, float(2**53 - 1)):
        assert parse_strict(canonical_bytes(value)) == value


def _shuffled(value: Any, rnd: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: _shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rnd) for v in value]
    return value


@settings(max_examples=200)
@given(
    safe_json_values,
    st.randoms(use_true_random=False),
    st.sampled_from([None, 0, 1, 4, "\t"]),
    st.booleans(),
    st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")]),
)
def test_key_order_and_whitespace_never_change_canonical_bytes(
    value: Any,
    rnd: random.Random,
    indent: int | str | None,
    ensure_ascii: bool,
    separators: tuple[str, str],
) -> None:
    # Two clients serialising one record differently must sign and hash the same bytes.
    text = json.dumps(
        _shuffled(value, rnd),
        indent=indent,
        ensure_ascii=ensure_ascii,
        separators=separators if indent is None else (separators[0].rstrip(" "), separators[1]),
    )
    assert canonical_bytes(parse_strict(text.encode())) == canonical_bytes(value)


# --- the orjson fast path must write exactly what the reference encoder writes -----------------

any_text = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["\x00\x1f\x7f\u2028\u2029", '"\\/\b\f\n\r\t', "\ue000\U0001f600", "é", "\U0010ffff"]
)
plain_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-SAFE, SAFE), any_text),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(any_text, children, max_size=5),
    ),
    max_leaves=30,
)


@settings(max_examples=500)
@given(plain_json_values | safe_json_values)
def test_canonical_bytes_equal_the_reference_encoder(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, UnicodeEncodeError):
        with pytest.raises(MalformedJSON):
            canonical_bytes(value)
        return
    assert canonical_bytes(value) == expected


@pytest.mark.parametrize(
    ("value", "fast"),
    [
        ({"b": [1, "x", None, True], "a": {"c": -(2**53 - 1)}}, True),
        ({"é": 1}, False),  # non-ASCII keys: JCS sorts by UTF-16 units
        ({"a": 0.5}, False),  # floats: ECMAScript number formatting
        ([2**53], False),
        ((1, 2), False),
    ],
)
def test_fast_path_is_taken_only_for_plain_json(value: Any, fast: bool) -> None:
    assert _plain_json(value) is fast


def test_keys_beyond_the_bmp_sort_by_utf16_units_not_code_points() -> None:
    # U+E000 sorts after U+1F600 in UTF-16 (0xE000 > 0xD83D) but before it by code point.
    value = {"\ue000": 1, "\U0001f600": 2}
    assert canonical_bytes(value) == rfc8785.dumps(value)
    assert canonical_bytes(value).index("\U0001f600".encode()) < canonical_bytes(value).index(
        "\ue000".encode()
    )


# --- arrays parsed item by item (batches) ---------------------------------------------------------


def _outcome(parse: Any, data: bytes) -> Any:
    try:
        return ("value", parse(data))
    except InputError as e:
        return (type(e).__name__, e.detail)


def _array_parse(data: bytes) -> Any:
    return parse_strict_array(data, max_items=10_000, max_bytes=MAX_ENTRY_BYTES)


@settings(max_examples=300)
@given(
    st.lists(json_values, max_size=6),
    st.sampled_from(["", " ", "\n\t ", "\r\n"]),
    st.sampled_from([None, "[", "]", ",", "x", '"', "{", "[,", ",]", "NaN"]),
    st.integers(min_value=0, max_value=200),
)
def test_array_parse_agrees_with_the_whole_parse(
    items: list[Any], space: str, damage: str | None, where: int
) -> None:
    """Same value for every array, same error class and message for every broken one."""
    text = json.dumps(items, separators=(",", ":")).replace(",", space + "," + space)
    text = space + text.replace("[", "[" + space) + space
    if damage is not None:
        at = where % (len(text) + 1)
        text = text[:at] + damage + text[at:]
    data = text.encode()
    assert _outcome(_array_parse, data) == _outcome(parse_strict, data)


@pytest.mark.parametrize(
    "data", [b"{}", b'"text"', b"3", b"null", b' {"a": [1]} ', b"[", b"", b"[]", b" [ ] "]
)
def test_array_parse_of_other_documents_agrees(data: bytes) -> None:
    assert _outcome(_array_parse, data) == _outcome(parse_strict, data)


def test_array_parse_stops_after_one_item_too_many() -> None:
    """A million tiny items: refused after 4 parses, whatever follows the fourth."""
    data = b"[" + b",".join([b"{}"] * 1_000_000) + b",this is not JSON]"
    with pytest.raises(TooManyItems):
        parse_strict_array(data, max_items=3, max_bytes=len(data))
    assert parse_strict_array(b"[{}, {}, {}]", max_items=3, max_bytes=100) == [{}, {}, {}]


def test_array_parse_keeps_every_strict_rule_inside_items() -> None:
    for data, error in [
        (b'[{"a":1,"a":2}]', MalformedJSON),
        (b"[NaN]", MalformedJSON),
        (b'["\\ud800"]', MalformedJSON),
        (b"[9007199254740992]", MalformedJSON),
        (b"\xef\xbb\xbf[]", MalformedJSON),
        (_nested(MAX_DEPTH + 1), MalformedJSON),
        (b"[" + b"0," * 40_000 + b"0]", PayloadTooLarge),
    ]:
        with pytest.raises(error):
            parse_strict_array(data, max_items=100_000, max_bytes=MAX_ENTRY_BYTES)
