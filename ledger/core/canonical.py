"""Strict JSON parsing and the one canonical encoder (RFC 8785, JCS).

Everything that is hashed or signed goes through `canonical_bytes`; everything that arrives from
outside goes through `parse_strict`, which refuses the inputs where JSON parsers disagree
(duplicate keys, NaN, huge integers, lone surrogates) so two verifiers can never read one entry
two ways.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import orjson
import rfc8785

from ledger.errors import MalformedJSON, PayloadTooLarge

MAX_ENTRY_BYTES = 64 * 1024 - 1  # fits a C2SP tlog-tiles entry bundle's uint16 length
MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 encoding of `value`: the only bytes Sealchain hashes or signs.

    Raises MalformedJSON for values JCS cannot encode (non-finite floats, unsafe integers,
    non-string keys, lone surrogates).
    """
    if _plain_json(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate or deep nesting: the reference encoder below decides
    _check_floats(value)
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError, UnicodeEncodeError) as e:
        raise MalformedJSON(f"value cannot be canonicalised: {e}") from e


def _plain_json(value: Any) -> bool:
    """True when orjson writes exactly the JCS bytes of `value`: this check and orjson
    together take about a tenth of the reference encoder's time, and under half of
    `json.dumps`'s, its first stand-in here.

    For JSON without floats the two agree: both sort keys (by UTF-16 units in JCS, by code
    points in orjson, the same order for ASCII keys), write safe integers in decimal, copy
    other characters as UTF-8 and escape only '"', '\\' and control characters (as \\b \\t
    \\n \\f \\r or lowercase \\u00xx). Floats (ECMAScript number formatting), non-ASCII keys,
    unsafe integers and anything that is not plain JSON (tuples, dataclasses, dates, str or int
    subclasses, all of which orjson would write its own way) go to rfc8785;
    tests/unit/test_canonical.py checks the agreement with rfc8785 and with `json.dumps`.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key in item:
                if type(key) is not str or not key.isascii():
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is int:
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                return False
        elif kind is not str and kind is not bool and item is not None:
            return False
    return True


def _check_floats(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if math.isfinite(item):
                _check_float(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # the common case costs one C call; name the key only on failure
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedJSON(f"duplicate object key {key!r}")
            seen.add(key)
    return obj


def _reject_constant(name: str) -> Any:
    raise MalformedJSON(f"{name} is not allowed in JSON")


def _parse_int(text: str) -> int:
    # Checked on the digits so a 10,000-digit number is refused before int() is asked to build it.
    digits = text.lstrip("-")
    if len(digits) > 16 or abs(int(text)) > MAX_SAFE_INTEGER:
        raise MalformedJSON(f"integer {text[:20]} is outside +/-(2^53-1)")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedJSON(f"number {text[:20]} is not finite as a double")
    _check_float(value)
    return value


def _check_float(value: float) -> None:
    # JCS writes doubles below 1e21 as plain integers; past 2^53 those are integers we refuse.
    if MAX_SAFE_INTEGER < abs(value) < 1e21:
        raise MalformedJSON(f"number {value!r} is outside +/-(2^53-1) but below 1e21")


def _check_tree(
    value: Any, depth: int, max_depth: int = MAX_DEPTH, *, strings: bool = True
) -> None:
    """Depth limit and (if `strings`) lone-surrogate check, iteratively so hostile input
    cannot blow the stack."""
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if strings:
                _check_string(item)
        elif isinstance(item, dict):
            if level >= max_depth:
                raise MalformedJSON(f"nesting deeper than {max_depth} levels")
            for key, child in item.items():
                if strings:
                    _check_string(key)
                stack.append((child, level + 1))
        elif isinstance(item, list):
            if level >= max_depth:
                raise MalformedJSON(f"nesting deeper than {max_depth} levels")
            stack.extend((child, level + 1) for child in item)


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise MalformedJSON("string contains a lone UTF-16 surrogate") from e


def parse_strict(
    data: bytes, *, max_bytes: int = MAX_ENTRY_BYTES, max_depth: int = MAX_DEPTH
) -> Any:
    """Parse JSON bytes, refusing anything ambiguous.

    Raises PayloadTooLarge over `max_bytes`, MalformedJSON for invalid UTF-8, duplicate keys,
    NaN/Infinity, integers outside +/-(2^53-1), nesting deeper than 32, or lone surrogates.
    """
    return _strictly(_strict_text(data, max_bytes), max_depth, _STRICT.decode)


def parse_presumed_canonical(data: bytes) -> Any | None:
    """`parse_strict(data)` for bytes the caller will then require to equal
    `canonical_bytes(value)`, in a fifth of the time; None where this cheap parse cannot stand
    in for the strict one (the caller asks `parse_strict` then, which says why).

    Only under that check is it the strict parse. orjson's parser differs from the strict one
    where canonical bytes leave it nothing to judge: it keeps the last of duplicate keys (the
    encoding writes each key once), reads integers past 2^53 and doubles past it below 1e21
    (`canonical_bytes` refuses both), takes whitespace around the document (the encoding writes
    none), and like the strict parser it refuses NaN, Infinity, invalid UTF-8 and a byte order
    mark. What the strict parser checks after decoding is settled here, conservatively: the
    size, nesting (at most MAX_DEPTH brackets in all) and lone surrogates (no \\u escape at all).
    A double that re-encodes to the same bytes is the one every correctly rounding parser reads.
    """
    if (
        type(data) is not bytes
        or len(data) > MAX_ENTRY_BYTES
        or (b"\\" in data and b"\\u" in data)  # one byte is found with memchr, two are not
        or data.count(b"{") + data.count(b"[") > MAX_DEPTH
    ):
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


class TooManyItems(Exception):
    """A JSON array had more than the allowed number of items (see `parse_strict_array`)."""


def parse_strict_array(
    data: bytes, *, max_items: int, max_bytes: int, max_depth: int = MAX_DEPTH
) -> Any:
    """`parse_strict`, except that a top-level array is parsed one item at a time and
    TooManyItems is raised as soon as it has more than `max_items`: a batch of millions of
    tiny items costs max_items + 1 parses, not millions. Anything other than an array is
    parsed whole and returned for the caller to refuse."""
    text = _strict_text(data, max_bytes)
    start = _skip_space(text, 0)
    if not text.startswith("[", start):
        return _strictly(text, max_depth, _STRICT.decode)
    return _strictly(text, max_depth, lambda t: _array_items(t, start, max_items))


def _array_items(text: str, start: int, max_items: int) -> list[Any]:
    """The items of the array opening at `start`, each parsed by the strict decoder."""
    items: list[Any] = []
    at = _skip_space(text, start + 1)
    if text.startswith("]", at):
        at += 1
    else:
        while True:
            item, at = _STRICT.raw_decode(text, at)
            items.append(item)
            if len(items) > max_items:
                raise TooManyItems(f"more than {max_items} items")
            at = _skip_space(text, at)
            if text.startswith(",", at):
                at = _skip_space(text, at + 1)
            elif text.startswith("]", at):
                at += 1
                break
            else:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
    at = _skip_space(text, at)
    if at != len(text):
        raise json.JSONDecodeError("Extra data", text, at)
    return items


def _strictly(text: str, max_depth: int, decode: Callable[[str], Any]) -> Any:
    """`decode` the text with the strict hooks' errors as MalformedJSON, then the checks the
    hooks cannot make (depth, lone surrogates)."""
    try:
        value = decode(text)
    except RecursionError as e:
        raise MalformedJSON(f"nesting deeper than {max_depth} levels") from e
    except json.JSONDecodeError as e:
        raise MalformedJSON(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    # A lone surrogate can only come from a \uD800-\uDFFF escape (the UTF-8 decoding refuses
    # encoded ones), so strings need checking only when the text has such an escape.
    _check_tree(value, 0, max_depth, strings=SURROGATE_ESCAPE.search(text) is not None)
    return value


_STRICT = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates,
    parse_constant=_reject_constant,
    parse_int=_parse_int,
    parse_float=_parse_float,
)
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace, no more


def _skip_space(text: str, at: int) -> int:
    found = _SPACE.match(text, at)
    assert found is not None  # the pattern matches the empty string
    return found.end()


def _strict_text(data: bytes, max_bytes: int) -> str:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedJSON("JSON input must be bytes")
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{len(data)} bytes is over the {max_bytes}-byte limit")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedJSON(f"invalid UTF-8 at byte {e.start}") from e
    if text.startswith("\ufeff"):
        raise MalformedJSON("byte order mark is not allowed")
    return text
