"""Block headers and the hash chain (docs/architecture.md §2)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json

import pytest

from ledger.core.block import (
    GENESIS_PREV,
    BlockError,
    BlockHeader,
    check_link,
    decode_header,
    header_from_json,
)
from ledger.core.canonical import canonical_bytes

ROOT1, ROOT2, ROOT3 = (hashlib.sha256(bytes([i])).digest() for i in range(3))
GENESIS = BlockHeader(0, GENESIS_PREV, "2026-11-28T08:30:00.000Z", 0, 1, 1, ROOT1)
BLOCK1 = BlockHeader(1, GENESIS.hash_hex(), "2026-11-28T08:30:00.250Z", 1, 3, 4, ROOT2)
BLOCK2 = BlockHeader(2, BLOCK1.hash_hex(), "2026-11-28T08:30:00.250Z", 4, 2, 6, ROOT3)


def test_header_encodes_to_canonical_json_of_all_seven_fields() -> None:
    assert json.loads(GENESIS.encode()) == {
        "height": 0,
        "prev": "0" * 64,
        "time": "2026-11-28T08:30:00.000Z",
        "first": 0,
        "count": 1,
        "size": 1,
        "root": base64.b64encode(ROOT1).decode(),
    }
    assert GENESIS.encode() == canonical_bytes(GENESIS.to_json())


def test_header_decodes_to_the_same_header() -> None:
    for header in (GENESIS, BLOCK1, BLOCK2):
        assert decode_header(header.encode()) == header
        assert header_from_json(header.to_json()) == header


def test_block_hash_is_sha256_of_domain_prefix_and_canonical_header() -> None:
    expected = hashlib.sha256(b"sealchain/block/v1\n" + canonical_bytes(BLOCK1.to_json()))
    assert BLOCK1.hash() == expected.digest()
    assert BLOCK1.hash_hex() == expected.hexdigest()
    # Without the domain prefix, a header's hash could collide with an entry's tx_id.
    assert BLOCK1.hash() != hashlib.sha256(BLOCK1.encode()).digest()


def test_block_hash_changes_with_every_field() -> None:
    changed = [
        dataclasses.replace(BLOCK1, height=7),
        dataclasses.replace(BLOCK1, prev="1" * 64),
        dataclasses.replace(BLOCK1, time="2026-11-28T08:30:00.251Z"),
        dataclasses.replace(BLOCK1, first=2),
        dataclasses.replace(BLOCK1, count=4),
        dataclasses.replace(BLOCK1, size=5),
        dataclasses.replace(BLOCK1, root=ROOT3),
    ]
    assert len({h.hash() for h in [BLOCK1, *changed]}) == 8


@pytest.mark.parametrize(
    "data",
    [
        json.dumps(GENESIS.to_json()).encode(),  # spaces after separators
        json.dumps(GENESIS.to_json(), sort_keys=True).encode(),
        json.dumps(dict(reversed(list(GENESIS.to_json().items()))), separators=(",", ":")).encode(),
        GENESIS.encode() + b"\n",
        GENESIS.encode().replace(b'"height":0', b'"height":0.0'),
        GENESIS.encode().replace(b'"count":1', b'"count":1e0'),
        GENESIS.encode().replace(b'"time"', b'"\\u0074ime"'),
    ],
)
def test_decode_header_rejects_non_canonical_bytes(data: bytes) -> None:
    # Stored headers are hashed as stored: a second spelling would be a second block hash.
    assert data != GENESIS.encode()
    with pytest.raises(BlockError):
        decode_header(data)


def test_decode_header_rejects_non_canonical_root_base64() -> None:
    root = base64.b64encode(ROOT1).decode()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet[alphabet.index(root[-2]) ^ 1]  # flips one of the two unused low bits
    sloppy = root[:-2] + last + "="
    assert sloppy != root
    assert base64.b64decode(sloppy) == ROOT1
    with pytest.raises(BlockError):
        decode_header(GENESIS.encode().replace(root.encode(), sloppy.encode()))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("height", -1),
        ("height", True),
        ("height", "0"),
        ("first", 1.5),
        ("count", None),
        ("size", -3),
        ("prev", "0" * 63),
        ("prev", "A" * 64),
        ("prev", "g" * 64),
        ("prev", 0),
        ("prev", "0" * 62 + "  "),  # bytes.fromhex skips spaces: 31 bytes in 64 characters
        ("time", "2026-11-28T08:30:00Z"),
        ("time", "yesterday"),
        ("root", base64.b64encode(ROOT1[:31]).decode()),
        ("root", "not base64"),
        ("root", 5),
    ],
)
def test_header_from_json_rejects_malformed_fields(field: str, value: object) -> None:
    with pytest.raises(BlockError):
        header_from_json({**GENESIS.to_json(), field: value})


def test_header_from_json_rejects_missing_and_extra_fields() -> None:
    value = GENESIS.to_json()
    with pytest.raises(BlockError):
        header_from_json({k: v for k, v in value.items() if k != "root"})
    with pytest.raises(BlockError):
        header_from_json({**value, "extra": 1})
    with pytest.raises(BlockError):
        header_from_json([value])


def test_decode_header_rejects_invalid_json_as_block_error() -> None:
    for data in (b"", b"{", b"\xff", b'{"height":0,"height":0}'):
        with pytest.raises(BlockError):
            decode_header(data)


# --- the chain ----------------------------------------------------------------------------------


def test_check_link_accepts_a_correct_chain() -> None:
    check_link(None, GENESIS)
    check_link(GENESIS, BLOCK1)
    check_link(BLOCK1, BLOCK2)  # equal times are allowed


def test_check_link_rejects_wrong_prev_hash() -> None:
    # A rewritten earlier block changes its hash, so the next block no longer links to it.
    rewritten = dataclasses.replace(GENESIS, root=ROOT3)
    with pytest.raises(BlockError, match="prev"):
        check_link(rewritten, BLOCK1)
    with pytest.raises(BlockError, match="prev"):
        check_link(GENESIS, dataclasses.replace(BLOCK1, prev=BLOCK1.prev[::-1]))


def test_check_link_rejects_skipped_or_repeated_height() -> None:
    for height in (0, 1, 3, 100):
        with pytest.raises(BlockError):
            check_link(BLOCK1, dataclasses.replace(BLOCK2, height=height))


def test_check_link_rejects_gap_or_overlap_in_entries() -> None:
    for first, size in ((3, 5), (5, 7)):
        with pytest.raises(BlockError, match="first"):
            check_link(BLOCK1, dataclasses.replace(BLOCK2, first=first, size=size))


def test_check_link_rejects_size_that_is_not_first_plus_count() -> None:
    for size in (5, 7, 0):
        with pytest.raises(BlockError, match="size"):
            check_link(BLOCK1, dataclasses.replace(BLOCK2, size=size))


def test_check_link_rejects_empty_block() -> None:
    with pytest.raises(BlockError):
        check_link(BLOCK1, dataclasses.replace(BLOCK2, count=0, size=4))


def test_check_link_rejects_time_going_backwards() -> None:
    earlier = dataclasses.replace(BLOCK2, time="2026-11-28T08:30:00.249Z")
    with pytest.raises(BlockError, match="backwards"):
        check_link(BLOCK1, earlier)


@pytest.mark.parametrize(
    "genesis",
    [
        dataclasses.replace(GENESIS, height=1),
        dataclasses.replace(GENESIS, prev="1" * 64),
        dataclasses.replace(GENESIS, first=1, size=2),
    ],
)
def test_check_link_rejects_malformed_genesis(genesis: BlockHeader) -> None:
    with pytest.raises(BlockError, match="genesis"):
        check_link(None, genesis)
