"""RFC 9162 (RFC 6962) Merkle tree hashing, proofs over stored node hashes, and their verification.

Stored nodes are the perfect subtrees of the log: node (level, i) covers leaves
[i * 2**level, (i + 1) * 2**level).  They never change once complete, so proof generation asks
storage for the O(log n) nodes a proof needs (`inclusion_nodes`, `consistency_nodes`) in one read,
then assembles the proof from them; nothing is ever recomputed from leaves per call.  For one
inclusion proof, `inclusion_plan` names the nodes and how they fold into the path in one walk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ledger.errors import ProofError

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_LEN = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Coord = tuple[int, int]  # (level, index) of a perfect subtree
NodeSource = Callable[[int, int], bytes] | Mapping[Coord, bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Merkle tree hash of a whole list of leaf hashes (for tests and small trees)."""
    rng = CompactRange()
    for h in leaf_hashes:
        rng.append(h)
    return rng.root()


# --- ranges: which subtrees a proof is made of --------------------------------------------------


def _perfect_chunks(start: int, end: int) -> list[Coord]:
    """Split [start, end) into the perfect subtrees RFC 9162 would hash, largest first."""
    chunks: list[Coord] = []
    size = end - start
    for level in range(size.bit_length() - 1, -1, -1):
        width = 1 << level
        if size & width:
            if start % width:
                raise ValueError(f"range [{start}, {end}) is not aligned")
            chunks.append((level, start >> level))
            start += width
    return chunks


@dataclass(frozen=True, slots=True)
class InclusionPlan:
    """The stored nodes of one inclusion proof, in proof order (leaf's sibling first), and how
    they make the path: each node is one hash of it, except `coords[fold:fold_end]`, the
    perfect parts of the right edge's subtree (largest first), which fold into one hash."""

    coords: list[Coord]
    fold: int
    fold_end: int

    def proof(
        self, nodes: NodeSource, folded: dict[tuple[Coord, ...], bytes] | None = None
    ) -> list[bytes]:
        """The audit path from the hashes at `coords` (read in their order); raises KeyError
        (a Mapping) or whatever a callable source raises for a missing node. `folded` keeps
        right-edge hashes across the plans of one tree (inclusion_proofs)."""
        if isinstance(nodes, Mapping):
            path = [nodes[coord] for coord in self.coords]
        else:
            path = [nodes(level, i) for level, i in self.coords]
        fold, end = self.fold, self.fold_end
        if end - fold > 1:
            edge = tuple(self.coords[fold:end])
            h = None if folded is None else folded.get(edge)
            if h is None:
                h = path[end - 1]
                for j in range(end - 2, fold - 1, -1):
                    h = node_hash(path[j], h)
                if folded is not None:
                    folded[edge] = h
            path[fold:end] = [h]
        return path


def inclusion_plan(index: int, size: int) -> InclusionPlan:
    """RFC 9162 2.1.3.1 PATH(index, D[0:size]) as stored nodes, in one pass from the leaf up.

    At each level the path takes the sibling of the leaf's ancestor: on the left a perfect
    subtree, on the right a perfect one unless it holds the tree's last leaf and is cut short,
    then its perfect parts (the bits of `size` below that level), which happens once at most;
    a level whose ancestor is the last node with no right sibling adds nothing. The same walk as
    `verify_inclusion`'s; the property tests hold it to RFC 9162's top-down split."""
    _check_index(index, size)
    coords: list[Coord] = []
    fold = fold_end = 0
    fn, sn, level = index, size - 1, 0
    while sn:
        if fn & 1:
            coords.append((level, fn - 1))
        elif fn < sn:
            if (fn + 2) << level <= size:
                coords.append((level, fn + 1))
            else:  # the right edge [(fn + 1) << level, size), cut short
                fold = len(coords)
                start = (fn + 1) << level
                for part in range(level - 1, -1, -1):
                    if size >> part & 1:
                        coords.append((part, start >> part))
                        start += 1 << part
                fold_end = len(coords)
        fn >>= 1
        sn >>= 1
        level += 1
    return InclusionPlan(coords, fold, fold_end)


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """RFC 9162 2.1.4.1 PROOF(size1, D[0:size2]) as subtree ranges, in proof order."""
    ranges: list[tuple[int, int]] = []
    start, end, m, complete = 0, size2, size1, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def _nodes_for(ranges: Iterable[tuple[int, int]]) -> list[Coord]:
    needed: list[Coord] = []
    for start, end in ranges:
        needed.extend(_perfect_chunks(start, end))
    return needed


def _range_hash(start: int, end: int, get: Callable[[int, int], bytes]) -> bytes:
    chunks = [get(level, i) for level, i in _perfect_chunks(start, end)]
    h = chunks.pop()
    while chunks:
        h = node_hash(chunks.pop(), h)
    return h


def _getter(source: NodeSource) -> Callable[[int, int], bytes]:
    if isinstance(source, Mapping):
        mapping = source
        return lambda level, i: mapping[(level, i)]
    return source


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")


def inclusion_nodes(index: int, size: int) -> list[Coord]:
    """Coordinates of the stored nodes an inclusion proof for (index, size) is built from."""
    return inclusion_plan(index, size).coords


def inclusion_proof(index: int, size: int, nodes: NodeSource) -> list[bytes]:
    """Audit path for leaf `index` in a tree of `size` leaves, from stored perfect subtrees."""
    return inclusion_plan(index, size).proof(nodes)


def inclusion_proofs(indexes: Iterable[int], size: int, nodes: NodeSource) -> list[list[bytes]]:
    """Audit paths for several leaves of one tree, from stored perfect subtrees.

    A node several paths share is read once (the entries of one block share every level above
    the block), and the right edge of a tree whose size is not a power of two, a chain of node
    hashes every path through it needs, is folded once."""
    read = _ReadOnce(_getter(nodes))
    folded: dict[tuple[Coord, ...], bytes] = {}
    return [inclusion_plan(index, size).proof(read, folded) for index in indexes]


class _ReadOnce(dict[Coord, bytes]):
    """Node hashes from `get`, each asked for once."""

    def __init__(self, get: Callable[[int, int], bytes]) -> None:
        super().__init__()
        self.get_node = get

    def __missing__(self, coord: Coord) -> bytes:
        digest = self[coord] = self.get_node(*coord)
        return digest


def consistency_nodes(size1: int, size2: int) -> list[Coord]:
    if not 0 <= size1 <= size2:
        raise ValueError(f"sizes must satisfy 0 <= {size1} <= {size2}")
    if size1 in (0, size2):
        return []
    return _nodes_for(_consistency_ranges(size1, size2))


def consistency_proof(size1: int, size2: int, nodes: NodeSource) -> list[bytes]:
    """Proof that the tree of size2 extends the tree of size1 (empty when size1 is 0 or size2)."""
    if not 0 <= size1 <= size2:
        raise ValueError(f"sizes must satisfy 0 <= {size1} <= {size2}")
    if size1 in (0, size2):
        return []
    get = _getter(nodes)
    return [_range_hash(a, b, get) for a, b in _consistency_ranges(size1, size2)]


def root_nodes(size: int) -> list[Coord]:
    """Coordinates of the perfect subtrees whose fold is the root of a tree of `size` leaves."""
    return _perfect_chunks(0, size)


def root_from_nodes(size: int, nodes: NodeSource) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return _range_hash(0, size, _getter(nodes))


# --- appending ----------------------------------------------------------------------------------


@dataclass
class CompactRange:
    """The right edge of a growing tree: at most log2(n) perfect subtrees, enough to append.

    `append` returns every node that became complete, so the caller can store them.
    """

    size: int = 0
    chunks: list[tuple[int, int, bytes]] | None = None  # (level, index, hash), largest first

    def __post_init__(self) -> None:
        if self.chunks is None:
            self.chunks = []
        coords = _perfect_chunks(0, self.size)
        if [(lv, i) for lv, i, _ in self.chunks] != coords:
            raise ValueError(f"chunks do not describe a tree of size {self.size}")

    @classmethod
    def from_nodes(cls, size: int, nodes: NodeSource) -> CompactRange:
        get = _getter(nodes)
        return cls(size, [(lv, i, get(lv, i)) for lv, i in _perfect_chunks(0, size)])

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        assert self.chunks is not None
        current = (0, self.size, leaf)
        completed = [current]
        while self.chunks and self.chunks[-1][0] == current[0]:
            level, _, left = self.chunks.pop()
            current = (level + 1, current[1] >> 1, node_hash(left, current[2]))
            completed.append(current)
        self.chunks.append(current)
        self.size += 1
        return completed

    def root(self) -> bytes:
        assert self.chunks is not None
        if not self.chunks:
            return EMPTY_ROOT
        h = self.chunks[-1][2]
        for _, _, left in reversed(self.chunks[:-1]):
            h = node_hash(left, h)
        return h


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2) --------------------------------------------------


def _check_int(name: str, value: object) -> int:
    if type(value) is not int or value < 0:
        raise ProofError(f"{name} must be a non-negative integer")
    return value


def _check_hash(name: str, value: object) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_LEN:
        raise ProofError(f"{name} must be {HASH_LEN} bytes")
    return value


def _check_proof(proof: object) -> list[bytes]:
    if proof is None:
        return []
    if not isinstance(proof, list | tuple):
        raise ProofError("proof must be a list of hashes")
    return [_check_hash(f"proof[{i}]", p) for i, p in enumerate(proof)]


def _root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: list[bytes], root: bytes
) -> None:
    """Check `leaf_hash` is leaf `index` of the tree (`size`, `root`); raise ProofError."""
    index, size = _check_int("index", index), _check_int("size", size)
    leaf, want = _check_hash("leaf hash", leaf_hash), _check_hash("root", root)
    path = _check_proof(proof)
    if index >= size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    if _root_from_inclusion(index, size, leaf, path) != want:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree (size2, root2) extends (size1, root1); raise ProofError if not."""
    size1, size2 = _check_int("size1", size1), _check_int("size2", size2)
    root1, root2 = _check_hash("root1", root1), _check_hash("root2", root2)
    path = _check_proof(proof)
    if size2 < size1:
        raise ProofError(f"size2 {size2} is smaller than size1 {size1}")
    if size1 == size2:
        if path:
            raise ProofError("proof between equal sizes must be empty")
        if root1 != root2:
            raise ProofError("roots differ for the same size")
        return
    if size1 == 0:
        if path:
            raise ProofError("proof from the empty tree must be empty")
        if root1 != EMPTY_ROOT:
            raise ProofError("root1 is not the empty-tree root")
        return
    if not path:
        raise ProofError("consistency proof is empty")
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root is the first subtree
        path = [root1, *path]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != root1:
        raise ProofError("consistency proof does not lead to root1")
    if sr != root2:
        raise ProofError("consistency proof does not lead to root2")
