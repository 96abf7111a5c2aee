"""Block headers and the hash chain (docs/architecture.md §2).

    header     = {"height", "prev", "time", "first", "count", "size", "root"}
    block_hash = SHA-256(b"sealchain/block/v1\\n" + JCS(header))

A block commits to the tree root after its entries, so the chain of headers and the Merkle tree
vouch for each other: changing an entry changes a root, which changes every later block hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from ledger.core.canonical import canonical_bytes, parse_strict
from ledger.core.envelope import parse_ts
from ledger.core.merkle import HASH_LEN
from ledger.errors import MalformedJSON

DOMAIN = b"sealchain/block/v1\n"
GENESIS_PREV = "0" * 64
FIELDS = frozenset({"height", "prev", "time", "first", "count", "size", "root"})


class BlockError(ValueError):
    """A header is malformed or does not link to its predecessor."""


@dataclass(frozen=True)
class BlockHeader:
    height: int
    prev: str
    time: str
    first: int
    count: int
    size: int
    root: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "prev": self.prev,
            "time": self.time,
            "first": self.first,
            "count": self.count,
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
        }

    def encode(self) -> bytes:
        return canonical_bytes(self.to_json())

    def hash(self) -> bytes:
        return hashlib.sha256(DOMAIN + self.encode()).digest()

    def hash_hex(self) -> str:
        return self.hash().hex()


def header_from_json(value: Any) -> BlockHeader:
    """Schema-check a decoded header; raises BlockError."""
    if not isinstance(value, dict) or value.keys() != FIELDS:
        raise BlockError("block header must have exactly " + ", ".join(sorted(FIELDS)))
    for name in ("height", "first", "count", "size"):
        if type(value[name]) is not int or value[name] < 0:
            raise BlockError(f"block header {name} must be a non-negative integer")
    prev = value["prev"]
    if not isinstance(prev, str) or len(prev) != 64 or not set(prev) <= set("0123456789abcdef"):
        raise BlockError("block header prev must be 64 lowercase hex digits")
    try:
        bytes.fromhex(prev)
        parse_ts(value["time"])
        root = base64.b64decode(value["root"], validate=True)
    except (ValueError, TypeError, binascii.Error) as e:
        raise BlockError(f"block header field is malformed: {e}") from e
    if len(root) != HASH_LEN:
        raise BlockError("block header root must be 32 bytes")
    return BlockHeader(
        value["height"], prev, value["time"], value["first"], value["count"], value["size"], root
    )


def decode_header(data: bytes) -> BlockHeader:
    """Parse stored header bytes, which must be exactly the canonical encoding."""
    try:
        header = header_from_json(parse_strict(data))
    except MalformedJSON as e:
        raise BlockError(f"block header is not valid JSON: {e.detail}") from e
    if header.encode() != bytes(data):
        raise BlockError("block header bytes are not canonical")
    return header


def check_link(prev: BlockHeader | None, header: BlockHeader) -> None:
    """Raise BlockError unless `header` correctly follows `prev` (None for genesis)."""
    if header.size != header.first + header.count:
        raise BlockError(f"block {header.height}: size is not first + count")
    if header.count == 0:
        raise BlockError(f"block {header.height}: a block holds at least one entry")
    if prev is None:
        if header.height != 0 or header.prev != GENESIS_PREV or header.first != 0:
            raise BlockError("genesis block must have height 0, first 0 and a zero prev hash")
        return
    if header.height != prev.height + 1:
        raise BlockError(f"block {header.height} follows block {prev.height}")
    if header.prev != prev.hash_hex():
        raise BlockError(f"block {header.height}: prev hash does not match block {prev.height}")
    if header.first != prev.size:
        raise BlockError(
            f"block {header.height}: first {header.first} != previous size {prev.size}"
        )
    if parse_ts(header.time) < parse_ts(prev.time):
        raise BlockError(f"block {header.height}: time goes backwards")
