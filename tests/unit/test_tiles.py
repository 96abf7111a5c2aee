"""C2SP tlog-tiles paths, widths and bundles, and proofs rebuilt from tiles alone: for random
trees, every inclusion and consistency proof computed from tiles equals the one computed from
all stored nodes, and verifies against the root."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.core import merkle, tiles
from ledger.errors import ProofError


def test_index_paths_are_the_specs() -> None:
    assert tiles.encode_index(1234067) == "x001/x234/067"
    assert tiles.encode_index(0) == "000"
    assert tiles.encode_index(999) == "999"
    assert tiles.encode_index(1000) == "x001/000"
    assert tiles.tile_path(0, 1234067, 112) == "tile/0/x001/x234/067.p/112"
    assert tiles.tile_path("entries", 5) == "tile/entries/005"


@given(st.integers(min_value=0, max_value=10**15))
def test_index_paths_round_trip(n: int) -> None:
    assert tiles.decode_index(tiles.encode_index(n)) == n


@pytest.mark.parametrize(
    "bad", ["", "1", "0001", "x000/001", "001/x002", "x1/002", "abc", "../000", "001/", "x001"]
)
def test_a_path_that_is_not_canonical_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="tile index"):
        tiles.decode_index(bad)


@pytest.mark.parametrize(
    "bad", ["000.p/0", "000.p/256", "000.p/01", "000.p/", "000.p", "000.q/3", "000.p/1\u0662"]
)
def test_a_partial_width_outside_1_to_255_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="tile"):
        tiles.parse_tile_path(bad)


def _parses(rest: str) -> bool:
    try:
        tiles.parse_tile_path(rest)
    except ValueError:
        return False
    return True


@given(st.from_regex(tiles.PATH_PATTERN, fullmatch=True))
def test_every_path_the_schema_pattern_allows_parses(rest: str) -> None:
    assert _parses(rest)


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=1, max_value=256))
def test_every_tile_path_written_matches_the_schema_pattern(n: int, width: int) -> None:
    rest = tiles.tile_path(0, n, width).removeprefix("tile/0/")
    assert re.fullmatch(tiles.PATH_PATTERN, rest)


@given(st.text(alphabet="0123456789x/.p\u0662\n", max_size=16))
def test_the_schema_pattern_and_the_parser_agree(rest: str) -> None:
    assert bool(re.fullmatch(tiles.PATH_PATTERN, rest)) == _parses(rest)


def test_widths_for_the_specs_example_tree_of_70000() -> None:
    size = 70_000
    assert [tiles.width_at(0, n, size) for n in (0, 272, 273, 274)] == [256, 256, 112, 0]
    assert [tiles.width_at(1, n, size) for n in (0, 1, 2)] == [256, 17, 0]
    assert [tiles.width_at(2, n, size) for n in (0, 1)] == [1, 0]
    assert tiles.width_at(1, 0, 256) == 1 and tiles.width_at(0, 0, 256) == 256


@given(st.lists(st.binary(max_size=300), max_size=40))
def test_entry_bundles_round_trip(entries: list[bytes]) -> None:
    assert tiles.parse_entry_bundle(tiles.entry_bundle(entries)) == entries


def test_bundle_limits() -> None:
    assert tiles.parse_entry_bundle(tiles.entry_bundle([b"x" * 0xFFFF])) == [b"x" * 0xFFFF]
    with pytest.raises(ValueError, match="uint16"):
        tiles.entry_bundle([b"x" * 0x10000])
    for truncated in (b"\x00", b"\x00\x05abc"):
        with pytest.raises(ValueError, match="bundle ends"):
            tiles.parse_entry_bundle(truncated)


def _log(size: int) -> tuple[list[bytes], dict[merkle.Coord, bytes]]:
    """Leaf data and every perfect subtree's hash, as the log stores them."""
    data = [hashlib.sha256(str(i).encode()).digest()[: i % 7 + 1] for i in range(size)]
    nodes: dict[merkle.Coord, bytes] = {(0, i): merkle.leaf_hash(d) for i, d in enumerate(data)}
    level = 0
    while (1 << (level + 1)) <= size:
        for i in range(size >> (level + 1)):
            nodes[(level + 1, i)] = merkle.node_hash(
                nodes[(level, 2 * i)], nodes[(level, 2 * i + 1)]
            )
        level += 1
    return data, nodes


def _served(nodes: dict[merkle.Coord, bytes], fetched: list[tuple[int, int, int]]):
    def fetch(level: int, n: int, width: int) -> bytes:
        fetched.append((level, n, width))
        return tiles.encode_tile([nodes[c] for c in tiles.node_coords(level, n, width)])

    return fetch


@given(st.data())
def test_proofs_from_tiles_equal_proofs_from_nodes_and_verify(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=70_000 // 20))
    leaves, nodes = _log(size)
    root = merkle.root_from_nodes(size, nodes)
    fetched: list[tuple[int, int, int]] = []
    source = tiles.TileNodes(size, _served(nodes, fetched))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = merkle.inclusion_proof(index, size, source)
    assert proof == merkle.inclusion_proof(index, size, nodes)
    merkle.verify_inclusion(index, size, merkle.leaf_hash(leaves[index]), proof, root)
    assert merkle.root_from_nodes(size, source) == root
    older = data.draw(st.integers(min_value=1, max_value=size))
    consistency = merkle.consistency_proof(older, size, source)
    assert consistency == merkle.consistency_proof(older, size, nodes)
    older_root = merkle.root_from_nodes(older, nodes)
    merkle.verify_consistency(older, size, consistency, older_root, root)
    # No tile wider than the tree has, and each read once.
    assert all(w == tiles.width_at(level, n, size) for level, n, w in fetched)
    assert len(fetched) == len(set(fetched))


def test_a_tile_of_the_wrong_length_or_a_changed_hash_is_caught() -> None:
    leaves, nodes = _log(600)
    root = merkle.root_from_nodes(600, nodes)
    short = tiles.TileNodes(600, lambda level, n, width: b"\x00" * (32 * width - 1))
    with pytest.raises(ValueError, match=r"not \d+ hashes of 32"):
        merkle.inclusion_proof(5, 600, short)
    changed = dict(nodes)
    changed[(0, 4)] = bytes(32)  # leaf 5's sibling, in level-0 tile 0
    source = tiles.TileNodes(600, _served(changed, []))
    proof = merkle.inclusion_proof(5, 600, source)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(5, 600, merkle.leaf_hash(leaves[5]), proof, root)


def test_a_bundle_is_checked_against_its_level_0_tile() -> None:
    leaves, nodes = _log(256)
    level0 = tiles.encode_tile([nodes[c] for c in tiles.node_coords(0, 0, 256)])
    tiles.check_bundle(leaves, level0)
    with pytest.raises(ValueError, match="entry 255"):
        tiles.check_bundle([*leaves[:-1], b"changed"], level0)
