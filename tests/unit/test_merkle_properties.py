"""Merkle tree properties over a 300-leaf log built the way the sequencer builds it.

Nodes come from `CompactRange.append` (every completed perfect subtree, stored by (level, index)),
so proofs here are assembled from stored nodes exactly as in production.  Roots and proofs are
cross-checked against an independent recursive RFC 9162 model written in this file.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.core import merkle
from ledger.errors import ProofError

N = 300
LEAF_HASHES = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(N)]


def _build() -> tuple[dict[tuple[int, int], bytes], list[bytes]]:
    rng = merkle.CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    roots = [rng.root()]
    for h in LEAF_HASHES:
        for level, index, value in rng.append(h):
            nodes[(level, index)] = value
        roots.append(rng.root())
    return nodes, roots


NODES, ROOTS = _build()  # ROOTS[n] is the root of the first n leaves


# --- an independent RFC 9162 model (section 2.1) ------------------------------------------------


def _k(n: int) -> int:
    """Largest power of two strictly smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return _h(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = _k(len(leaves))
    return _h(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], b), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


def _inclusion_shape(m: int, n: int) -> tuple[str, ...]:
    """Which side each audit-path hash joins on: all the verifier learns from (index, size)."""
    if n == 1:
        return ()
    k = _k(n)
    if m < k:
        return (*_inclusion_shape(m, k), "R")
    return (*_inclusion_shape(m - k, n - k), "L")


def _consistency_shape(m: int, n: int, b: bool = True) -> tuple[str, ...]:
    if m == n:
        return () if b else ("B",)
    k = _k(n)
    if m <= k:
        return (*_consistency_shape(m, k, b), "R")
    return (*_consistency_shape(m - k, n - k, False), "L")


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def _rejected(fn: Any, *args: Any) -> bool:
    try:
        fn(*args)
    except ProofError:
        return True
    return False


# --- hashing and roots --------------------------------------------------------------------------


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    # Without the 0x00/0x01 prefixes an interior node could pass as a leaf (RFC 9162 2.1.1).
    assert merkle.leaf_hash(b"abc") == _h(b"\x00abc")
    assert merkle.node_hash(b"L" * 32, b"R" * 32) == _h(b"\x01" + b"L" * 32 + b"R" * 32)
    assert merkle.leaf_hash(b"\x01" + b"L" * 32 + b"R" * 32) != merkle.node_hash(
        b"L" * 32, b"R" * 32
    )


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert merkle.root([]) == merkle.EMPTY_ROOT == _h(b"")
    assert merkle.CompactRange().root() == _h(b"")
    assert merkle.root_from_nodes(0, {}) == _h(b"")


def test_compact_range_root_matches_rfc9162_tree_hash_at_every_size() -> None:
    for size in range(N + 1):
        expected = _mth(LEAF_HASHES[:size])
        assert ROOTS[size] == expected, size
        assert merkle.root(LEAF_HASHES[:size]) == expected, size
        assert merkle.root_from_nodes(size, NODES) == expected, size


def test_append_reports_every_completed_subtree() -> None:
    # Storage keeps exactly these nodes; a missing one would make a later proof unbuildable.
    expected = {
        (level, i)
        for level in range(N.bit_length())
        for i in range(N >> level)  # complete subtrees at that level
    }
    assert set(NODES) == expected
    for (level, i), value in NODES.items():
        assert value == _mth(LEAF_HASHES[i << level : (i + 1) << level]), (level, i)


def test_compact_range_resumes_from_stored_nodes() -> None:
    # A restarted sequencer rebuilds its right edge from storage and must continue identically.
    for size in (0, 1, 7, 64, 150, 255):
        rng = merkle.CompactRange.from_nodes(size, NODES)
        assert rng.root() == ROOTS[size]
        for h in LEAF_HASHES[size : size + 20]:
            rng.append(h)
        assert rng.root() == ROOTS[min(size + 20, N)]


def test_compact_range_rejects_chunks_for_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="size"):
        merkle.CompactRange(3, [(1, 0, b"x" * 32)])


def test_roots_of_duplicated_last_leaf_differ() -> None:
    # CVE-2012-2459: Bitcoin-style trees that duplicate an odd last node give [a,b,c] and
    # [a,b,c,c] the same root; RFC 9162 trees must not.
    a, b, c = (merkle.leaf_hash(x) for x in (b"a", b"b", b"c"))
    assert merkle.root([a, b, c]) != merkle.root([a, b, c, c])
    assert merkle.root([a, b]) != merkle.root([a, b, b])


# --- proofs from stored nodes: exhaustive -------------------------------------------------------


def test_inclusion_proof_verifies_for_every_index_at_every_size() -> None:
    for size in range(1, N + 1):
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, NODES)
            merkle.verify_inclusion(index, size, LEAF_HASHES[index], proof, ROOTS[size])


@given(st.integers(1, N).flatmap(lambda n: st.tuples(st.lists(st.integers(0, n - 1)), st.just(n))))
def test_inclusion_proofs_equal_one_proof_at_a_time(case: tuple[list[int], int]) -> None:
    indexes, size = case
    assert merkle.inclusion_proofs(indexes, size, NODES) == [
        merkle.inclusion_proof(i, size, NODES) for i in indexes
    ]


def test_inclusion_proofs_hash_each_shared_subtree_once() -> None:
    # The right edge of a 1000-leaf tree: every path through it needs the same range hashes.
    calls = 0

    def counting(level: int, i: int) -> bytes:
        nonlocal calls
        calls += 1
        return NODES[(level, i)]

    size = N
    merkle.inclusion_proofs(range(size - 16, size), size, counting)
    shared = calls
    calls = 0
    for i in range(size - 16, size):
        merkle.inclusion_proof(i, size, counting)
    assert shared < calls / 2, (shared, calls)
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proofs([0, size], size, NODES)


def test_consistency_proof_verifies_for_every_pair_of_sizes() -> None:
    for size2 in range(N + 1):
        for size1 in range(size2 + 1):
            proof = merkle.consistency_proof(size1, size2, NODES)
            merkle.verify_consistency(size1, size2, proof, ROOTS[size1], ROOTS[size2])


def test_proofs_equal_the_rfc9162_reference_proofs() -> None:
    for size in range(1, 70):
        leaves = LEAF_HASHES[:size]
        for m in range(size):
            assert merkle.inclusion_proof(m, size, NODES) == _path(m, leaves), (m, size)
        for m in range(1, size):
            assert merkle.consistency_proof(m, size, NODES) == _subproof(m, leaves, True), (m, size)


class _CountingNodes:
    """A node source that records which stored nodes a proof asked for."""

    def __init__(self) -> None:
        self.reads: list[tuple[int, int]] = []

    def __call__(self, level: int, i: int) -> bytes:
        self.reads.append((level, i))
        return NODES[(level, i)]


def test_proof_generation_reads_only_the_listed_nodes() -> None:
    # docs/architecture.md §2: proofs read O(log n) stored nodes, never a subtree's leaves.
    for size in range(1, N + 1, 7):
        for index in range(0, size, 5):
            source = _CountingNodes()
            merkle.inclusion_proof(index, size, source)
            assert source.reads == merkle.inclusion_nodes(index, size)
        for size1 in range(0, size + 1, 5):
            source = _CountingNodes()
            merkle.consistency_proof(size1, size, source)
            assert source.reads == merkle.consistency_nodes(size1, size)


def test_inclusion_nodes_stay_logarithmic_for_every_small_tree() -> None:
    for size in range(1, N + 1):
        bound = 2 * math.ceil(math.log2(size)) + 2
        for index in range(size):
            assert len(merkle.inclusion_nodes(index, size)) <= bound, (index, size)


@given(st.integers(1, 2**48).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))))
def test_inclusion_nodes_stay_logarithmic_for_huge_trees(case: tuple[int, int]) -> None:
    index, size = case
    assert len(merkle.inclusion_nodes(index, size)) <= 2 * math.ceil(math.log2(size)) + 2


# --- the one-pass plan (merkle.inclusion_plan) against the range-based walk and the RFC model ---

BIG = 2100  # past 2^11, so paths have a right edge of several parts at many levels
BIG_LEAVES = [merkle.leaf_hash(f"big {i}".encode()) for i in range(BIG)]


def _big_nodes() -> dict[tuple[int, int], bytes]:
    rng = merkle.CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    for h in BIG_LEAVES:
        nodes.update(((level, index), value) for level, index, value in rng.append(h))
    return nodes


BIG_NODES = _big_nodes()
_positions = st.integers(1, 2**62).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n)))


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC 9162 2.1.3.1 PATH(index, D[0:size]) as subtree ranges, leaf's sibling first: the
    top-down split the plan's bottom-up walk must agree with."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = 1 << ((end - start - 1).bit_length() - 1)  # the largest power of two below
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def _ranges_walk(index: int, size: int) -> list[tuple[int, int]]:
    """The walk the plan replaced: RFC 9162's top-down split into subtree ranges, each cut into
    its perfect parts."""
    return merkle._nodes_for(_inclusion_ranges(index, size))


@given(_positions)
def test_plan_names_the_nodes_of_the_range_walk_for_huge_trees(case: tuple[int, int]) -> None:
    index, size = case
    plan = merkle.inclusion_plan(index, size)
    assert plan.coords == _ranges_walk(index, size)
    assert merkle.inclusion_nodes(index, size) == plan.coords


@given(_positions)
def test_plan_folds_exactly_the_right_edge_parts(case: tuple[int, int]) -> None:
    # Every node but the folded run is a whole path hash; the run is the perfect parts of the
    # one cut-short subtree on the right edge, largest first and ending at the tree's last leaf.
    index, size = case
    plan = merkle.inclusion_plan(index, size)
    run = plan.coords[plan.fold : plan.fold_end]
    assert len(plan.coords) - max(len(run) - 1, 0) == len(_inclusion_ranges(index, size))
    if run:
        levels = [level for level, _ in run]
        assert levels == sorted(levels, reverse=True)
        last_level, last_index = run[-1]
        assert (last_index + 1) << last_level == size


def test_plan_proofs_equal_the_rfc9162_paths_for_every_index_of_some_sizes() -> None:
    for size in (1, 2, 3, 5, 31, 32, 33, 1023, 1025, 1500, 2047, BIG):
        leaves = BIG_LEAVES[:size]
        for index in range(0, size, max(1, size // 97)):
            assert merkle.inclusion_plan(index, size).proof(BIG_NODES) == _path(index, leaves)


@given(st.integers(1, BIG).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))))
def test_plan_proof_equals_the_rfc9162_path(case: tuple[int, int]) -> None:
    index, size = case
    plan = merkle.inclusion_plan(index, size)
    path = plan.proof(BIG_NODES)
    assert path == _path(index, BIG_LEAVES[:size])
    assert path == merkle.inclusion_proofs([index], size, BIG_NODES)[0]
    merkle.verify_inclusion(index, size, BIG_LEAVES[index], path, merkle.root(BIG_LEAVES[:size]))


@given(st.integers(1, BIG).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))))
def test_plan_proof_reads_a_callable_source_once_per_node_in_order(case: tuple[int, int]) -> None:
    index, size = case
    plan = merkle.inclusion_plan(index, size)
    reads: list[tuple[int, int]] = []

    def source(level: int, i: int) -> bytes:
        reads.append((level, i))
        return BIG_NODES[(level, i)]

    assert plan.proof(source) == plan.proof(BIG_NODES)
    assert reads == plan.coords


def test_plan_proof_refuses_a_source_missing_a_node() -> None:
    plan = merkle.inclusion_plan(1000, BIG)
    partial = dict(BIG_NODES)
    del partial[plan.coords[-1]]
    with pytest.raises(KeyError):
        plan.proof(partial)
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_plan(BIG, BIG)


def test_proof_generation_refuses_positions_outside_the_tree() -> None:
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(5, 5, NODES)
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_nodes(-1, 5)
    with pytest.raises(ValueError, match="sizes"):
        merkle.consistency_proof(6, 5, NODES)


# --- tampering: hypothesis ----------------------------------------------------------------------

positions = st.integers(1, N).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n)))
size_pairs = st.integers(0, N).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))
nontrivial_pairs = st.integers(2, N).flatmap(lambda n: st.tuples(st.integers(1, n - 1), st.just(n)))
bits = st.integers(0, 255)


def _tamper(value: int, how: str, arg: int) -> int:
    return {"xor": value ^ arg, "plus": value + arg, "minus": value - arg}[how]


tampers = st.tuples(st.sampled_from(["xor", "plus", "minus"]), st.integers(1, 2**20))


@given(positions, st.data())
def test_inclusion_rejects_flipped_proof_bit(pos: tuple[int, int], data: st.DataObject) -> None:
    index, size = pos
    proof = merkle.inclusion_proof(index, size, NODES)
    if not proof:
        proof = []  # a one-leaf tree has no proof to flip: an inserted hash must be refused
        proof.append(data.draw(st.binary(min_size=32, max_size=32)))
    else:
        which = data.draw(st.integers(0, len(proof) - 1))
        proof[which] = _flip(proof[which], data.draw(bits))
    with pytest.raises(ProofError):
        merkle.verify_inclusion(index, size, LEAF_HASHES[index], proof, ROOTS[size])


@given(positions, bits)
def test_inclusion_rejects_flipped_root_bit(pos: tuple[int, int], bit: int) -> None:
    index, size = pos
    proof = merkle.inclusion_proof(index, size, NODES)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(index, size, LEAF_HASHES[index], proof, _flip(ROOTS[size], bit))


@given(positions, bits)
def test_inclusion_rejects_flipped_leaf_hash_bit(pos: tuple[int, int], bit: int) -> None:
    index, size = pos
    proof = merkle.inclusion_proof(index, size, NODES)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(index, size, _flip(LEAF_HASHES[index], bit), proof, ROOTS[size])


@given(positions, tampers)
def test_inclusion_rejects_changed_index(pos: tuple[int, int], tamper: tuple[str, int]) -> None:
    # Moving an entry to another position (or off either end of the tree) must never verify.
    index, size = pos
    proof = merkle.inclusion_proof(index, size, NODES)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(
            _tamper(index, *tamper), size, LEAF_HASHES[index], proof, ROOTS[size]
        )


@given(positions, tampers)
def test_inclusion_rejects_changed_size_unless_path_shape_is_identical(
    pos: tuple[int, int], tamper: tuple[str, int]
) -> None:
    # RFC 9162 proofs bind the size only through the audit path's shape, so a receipt must take
    # the size from the signed checkpoint; any size giving another shape is refused.
    index, size = pos
    new_size = _tamper(size, *tamper)
    proof = merkle.inclusion_proof(index, size, NODES)
    same_shape = 0 <= index < new_size and _inclusion_shape(index, new_size) == _inclusion_shape(
        index, size
    )
    assert _rejected(
        merkle.verify_inclusion, index, new_size, LEAF_HASHES[index], proof, ROOTS[size]
    ) is (not same_shape)


def test_inclusion_proof_for_size_3_also_fits_size_4_so_size_must_be_signed() -> None:
    # Documents the property above with the smallest example: leaf 0's path in a 3-leaf tree has
    # the same shape as in a 4-leaf tree.
    proof = merkle.inclusion_proof(0, 3, NODES)
    merkle.verify_inclusion(0, 4, LEAF_HASHES[0], proof, ROOTS[3])
    with pytest.raises(ProofError):
        merkle.verify_inclusion(0, 5, LEAF_HASHES[0], proof, ROOTS[3])


@given(nontrivial_pairs, st.data())
def test_consistency_rejects_flipped_proof_bit(pair: tuple[int, int], data: st.DataObject) -> None:
    size1, size2 = pair
    proof = merkle.consistency_proof(size1, size2, NODES)
    which = data.draw(st.integers(0, len(proof) - 1))
    proof[which] = _flip(proof[which], data.draw(bits))
    with pytest.raises(ProofError):
        merkle.verify_consistency(size1, size2, proof, ROOTS[size1], ROOTS[size2])


@given(size_pairs, bits, st.booleans())
def test_consistency_rejects_flipped_root_bit(pair: tuple[int, int], bit: int, first: bool) -> None:
    # A log that rewrote history (root1) or forked (root2) is caught.
    size1, size2 = pair
    proof = merkle.consistency_proof(size1, size2, NODES)
    root1, root2 = ROOTS[size1], ROOTS[size2]
    if first:
        root1 = _flip(root1, bit)
    else:
        root2 = _flip(root2, bit)
    if size1 == 0 and not first:
        return  # every tree extends the empty tree: root2 is not constrained at all
    with pytest.raises(ProofError):
        merkle.verify_consistency(size1, size2, proof, root1, root2)


@given(nontrivial_pairs, tampers)
def test_consistency_rejects_changed_size1(pair: tuple[int, int], tamper: tuple[str, int]) -> None:
    size1, size2 = pair
    proof = merkle.consistency_proof(size1, size2, NODES)
    with pytest.raises(ProofError):
        merkle.verify_consistency(_tamper(size1, *tamper), size2, proof, ROOTS[size1], ROOTS[size2])


@given(nontrivial_pairs, tampers)
def test_consistency_rejects_changed_size2_unless_proof_shape_is_identical(
    pair: tuple[int, int], tamper: tuple[str, int]
) -> None:
    size1, size2 = pair
    new_size2 = _tamper(size2, *tamper)
    proof = merkle.consistency_proof(size1, size2, NODES)
    same_shape = new_size2 > size1 and _consistency_shape(size1, new_size2) == _consistency_shape(
        size1, size2
    )
    assert _rejected(
        merkle.verify_consistency, size1, new_size2, proof, ROOTS[size1], ROOTS[size2]
    ) is (not same_shape)


def test_consistency_rejects_a_proof_between_equal_sizes_or_from_empty() -> None:
    with pytest.raises(ProofError):
        merkle.verify_consistency(5, 5, [ROOTS[5]], ROOTS[5], ROOTS[5])
    with pytest.raises(ProofError):
        merkle.verify_consistency(5, 5, [], ROOTS[5], ROOTS[6])
    with pytest.raises(ProofError):
        merkle.verify_consistency(0, 5, [ROOTS[5]], ROOTS[0], ROOTS[5])
    with pytest.raises(ProofError):
        merkle.verify_consistency(0, 5, [], ROOTS[1], ROOTS[5])
    with pytest.raises(ProofError):
        merkle.verify_consistency(6, 5, [], ROOTS[6], ROOTS[5])


# --- wrong types are refused as bad proofs, never as crashes ------------------------------------

not_a_size = st.one_of(
    st.booleans(),
    st.integers(max_value=-1),
    st.text(max_size=5),
    st.floats(allow_nan=False),
    st.none(),
    st.binary(max_size=8),
)
not_a_hash = st.one_of(
    st.binary().filter(lambda b: len(b) != 32),
    st.text(min_size=32, max_size=32),
    st.builds(bytearray, st.binary(min_size=32, max_size=32)),
    st.integers(),
    st.none(),
)
not_a_proof = st.one_of(
    st.binary(min_size=1),
    st.text(min_size=1),
    st.integers(),
    st.dictionaries(st.text(), st.text(), min_size=1),
    st.lists(not_a_hash, min_size=1, max_size=3),
)


@given(not_a_size, st.integers(0, 1))
def test_inclusion_raises_proof_error_for_non_integer_positions(bad: Any, slot: int) -> None:
    args: list[Any] = [0, 3, LEAF_HASHES[0], merkle.inclusion_proof(0, 3, NODES), ROOTS[3]]
    args[slot] = bad  # index or size
    with pytest.raises(ProofError):
        merkle.verify_inclusion(*args)


@given(not_a_hash, st.sampled_from([2, 4]))
def test_inclusion_raises_proof_error_for_malformed_hashes(bad: Any, slot: int) -> None:
    args: list[Any] = [0, 3, LEAF_HASHES[0], merkle.inclusion_proof(0, 3, NODES), ROOTS[3]]
    args[slot] = bad  # leaf hash or root
    with pytest.raises(ProofError):
        merkle.verify_inclusion(*args)


@given(not_a_proof)
def test_inclusion_raises_proof_error_for_malformed_proofs(bad: Any) -> None:
    with pytest.raises(ProofError):
        merkle.verify_inclusion(0, 3, LEAF_HASHES[0], bad, ROOTS[3])


@given(not_a_size, st.integers(0, 1))
def test_consistency_raises_proof_error_for_non_integer_sizes(bad: Any, slot: int) -> None:
    args: list[Any] = [3, 7, merkle.consistency_proof(3, 7, NODES), ROOTS[3], ROOTS[7]]
    args[slot] = bad
    with pytest.raises(ProofError):
        merkle.verify_consistency(*args)


@given(not_a_hash, st.sampled_from([3, 4]))
def test_consistency_raises_proof_error_for_malformed_roots(bad: Any, slot: int) -> None:
    args: list[Any] = [3, 7, merkle.consistency_proof(3, 7, NODES), ROOTS[3], ROOTS[7]]
    args[slot] = bad
    with pytest.raises(ProofError):
        merkle.verify_consistency(*args)


@given(not_a_proof)
def test_consistency_raises_proof_error_for_malformed_proofs(bad: Any) -> None:
    with pytest.raises(ProofError):
        merkle.verify_consistency(3, 7, bad, ROOTS[3], ROOTS[7])


@pytest.mark.parametrize("bad", [True, False, -1, "1", 1.0, None])
def test_inclusion_refuses_bool_negative_and_string_positions(bad: Any) -> None:
    # bool is an int subclass: True must not pass for index 1.
    proof = merkle.inclusion_proof(1, 3, NODES)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(bad, 3, LEAF_HASHES[1], proof, ROOTS[3])
