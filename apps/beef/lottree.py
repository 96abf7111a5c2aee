"""A lot's packs as a Merkle tree (RFC 9162 hashing, ledger.core.merkle): what a lot commitment
(`beef.lot`) signs as a root, and what a scan proves one pack's membership with.

The leaves are the UTF-8 pack URIs sorted by code point, so the ledger can recompute the root
from the packs it holds in any order. The projection keeps the tree's perfect subtrees in one
blob (level 0 first, then each level above; `levels`), so the path for a pack is a few slices
and never a rehash of the lot.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

from ledger.core import merkle

HASH = merkle.HASH_LEN


def leaves(uris: Iterable[str]) -> list[bytes]:
    return [merkle.leaf_hash(uri.encode()) for uri in sorted(uris)]


def root_b64(uris: Iterable[str]) -> str:
    return base64.b64encode(merkle.root(leaves(uris))).decode()


def levels(leaf_hashes: list[bytes]) -> bytes:
    """Every perfect subtree's hash, level 0 first: level l holds n >> l hashes."""
    blob, level = [*leaf_hashes], leaf_hashes
    while len(level) > 1:
        level = [merkle.node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        blob += level
    return b"".join(blob)


def _offset(size: int, level: int) -> int:
    """Where level `level` starts in the blob of a tree of `size` leaves, in hashes."""
    return sum(size >> below for below in range(level))


def node(blob: bytes, size: int, level: int, index: int) -> bytes:
    at = (_offset(size, level) + index) * HASH
    found = blob[at : at + HASH]
    if len(found) != HASH or index >= size >> level:
        raise KeyError((level, index))
    return found


def position(blob: bytes, size: int, uri: str) -> int | None:
    """The leaf index of `uri` in the lot's tree, or None if it is not one of its packs."""
    leaf, at = merkle.leaf_hash(uri.encode()), 0
    while (at := blob.find(leaf, at, size * HASH)) >= 0:
        if at % HASH == 0:
            return at // HASH
        at += 1
    return None


def path(blob: bytes, size: int, index: int) -> list[bytes]:
    """The inclusion proof of leaf `index` in the lot's tree, from the stored subtrees."""
    plan = merkle.inclusion_plan(index, size)
    # Each level's start worked out once per path, not once per node (as `node` does): every
    # scan of a committed lot's pack makes one, and the sums were most of its time.
    starts, at = [], 0
    for level in range(size.bit_length()):
        starts.append(at)
        at += size >> level
    found = {}
    for level, i in plan.coords:
        start = (starts[level] + i) * HASH
        found[level, i] = blob[start : start + HASH]
        if len(found[level, i]) != HASH or i >= size >> level:
            raise KeyError((level, i))
    return plan.proof(found)
