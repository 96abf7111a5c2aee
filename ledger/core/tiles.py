"""C2SP tlog-tiles: the log as immutable, cacheable tiles of Merkle hashes and entry bundles,
and proofs rebuilt from tiles alone (../shared/specs/c2sp/tlog-tiles.md).

Tile (L, N) holds the hashes of the perfect subtrees of height 8L that cover leaves
[N * 256**(L+1), (N + 1) * 256**(L+1)): 256 of them when full, W < 256 when partial (the
right edge of a tree). Our stored nodes are exactly those subtrees (ledger.core.merkle: node
(level, i) covers [i * 2**level, (i + 1) * 2**level)), so tile (L, N) of width W is nodes
(8L, 256N) ... (8L, 256N + W - 1). A client that trusts a checkpoint reads the tiles it needs
and computes any inclusion or consistency proof with the same code the log uses (`TileNodes`
is a merkle.NodeSource).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ledger.core import merkle

HEIGHT = 8
WIDTH = 1 << HEIGHT  # 256 hashes in a full tile
MAX_ENTRY = 0xFFFF  # an entry bundle's uint16 length prefix
_INDEX = re.compile(r"^(?:x[0-9]{3}/)*[0-9]{3}$")
# Exactly the paths parse_tile_path accepts, `<N>[.p/<W>]` with N canonical (no leading group
# of zeros) and W 1 to 255, for the API's schema: a client (or a schema-driven fuzzer) learns
# from it which paths exist. No look-arounds, so generators can build strings from it.
PATH_PATTERN = (
    r"^(?:[0-9]{3}|x(?:00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})(?:/x[0-9]{3})*/[0-9]{3})"
    r"(?:\.p/(?:[1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$"
)


def encode_index(n: int) -> str:
    """N as zero-padded 3-digit path elements, all but the last prefixed with x:
    1234067 -> x001/x234/067."""
    if n < 0:
        raise ValueError("a tile index is not negative")
    groups = []
    while True:
        n, rest = divmod(n, 1000)
        groups.append(f"{rest:03d}")
        if n == 0:
            break
    return "/".join(["x" + g for g in reversed(groups[1:])] + [groups[0]])


def decode_index(path: str) -> int:
    """The inverse of encode_index; ValueError for anything it would not write (so that one
    tile has one URL, and a cache one copy)."""
    if not _INDEX.match(path):
        raise ValueError(f"not a tile index path: {path!r}")
    n = int(path.replace("x", "").replace("/", ""))
    if encode_index(n) != path:
        raise ValueError(f"not the canonical path of tile index {n}: {path!r}")
    return n


def tile_path(level: int | str, n: int, width: int = WIDTH) -> str:
    """`tile/<L>/<N>[.p/<W>]`; level "entries" for entry bundles."""
    suffix = "" if width == WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_index(n)}{suffix}"


def parse_tile_path(rest: str) -> tuple[int, int]:
    """`<N>[.p/<W>]` (what follows `tile/<L>/`) as (N, W); ValueError if malformed."""
    index, _, width_text = rest.partition(".p/")
    n = decode_index(index)
    if not width_text:
        if ".p" in rest:
            raise ValueError("a partial tile path ends with .p/<W>")
        return n, WIDTH
    if not re.fullmatch(r"[1-9][0-9]{0,2}", width_text) or int(width_text) >= WIDTH:
        raise ValueError(f"a partial tile's width is 1 to 255, not {width_text!r}")
    return n, int(width_text)


def width_at(level: int, n: int, size: int) -> int:
    """The width of tile (level, n) in a tree of `size` leaves: 256, a partial width, or 0
    if the tree has no such tile."""
    hashes = size >> (HEIGHT * level)  # complete subtrees of height 8 * level
    return max(0, min(WIDTH, hashes - n * WIDTH))


def node_coords(level: int, n: int, width: int) -> list[merkle.Coord]:
    """The stored nodes tile (level, n) of `width` is made of."""
    first = n * WIDTH
    return [(HEIGHT * level, first + i) for i in range(width)]


def encode_tile(hashes: Sequence[bytes]) -> bytes:
    return b"".join(hashes)


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as a bundle of big-endian uint16 length-prefixed records."""
    out = bytearray()
    for data in entries:
        if len(data) > MAX_ENTRY:
            raise ValueError(f"an entry of {len(data)} bytes does not fit a bundle's uint16")
        out += len(data).to_bytes(2, "big") + data
    return bytes(out)


def parse_entry_bundle(bundle: bytes) -> list[bytes]:
    entries, at = [], 0
    while at < len(bundle):
        if at + 2 > len(bundle):
            raise ValueError("the bundle ends inside a length prefix")
        length = int.from_bytes(bundle[at : at + 2], "big")
        at += 2
        if at + length > len(bundle):
            raise ValueError("the bundle ends inside an entry")
        entries.append(bundle[at : at + length])
        at += length
    return entries


FetchTile = Callable[[int, int, int], bytes]  # (level, n, width) -> tile bytes


@dataclass
class TileNodes:
    """A merkle.NodeSource for a tree of `size` leaves that reads tiles through `fetch` (HTTP,
    a cache, a directory), each at most once: node (h, i) is read from tile level h // 8 and,
    when h is not a multiple of 8, hashed up from the 2**(h % 8) tile hashes under it."""

    size: int
    fetch: FetchTile
    _tiles: dict[tuple[int, int], list[bytes]] = field(default_factory=dict)

    def _tile(self, level: int, n: int) -> list[bytes]:
        key = (level, n)
        if key not in self._tiles:
            width = width_at(level, n, self.size)
            if width == 0:
                raise ValueError(f"a tree of size {self.size} has no tile ({level}, {n})")
            data = self.fetch(level, n, width)
            if len(data) != width * merkle.HASH_LEN:
                raise ValueError(
                    f"tile ({level}, {n}) is {len(data)} bytes, not {width} hashes of 32"
                )
            self._tiles[key] = [data[i : i + merkle.HASH_LEN] for i in range(0, len(data), 32)]
        return self._tiles[key]

    def __call__(self, height: int, index: int) -> bytes:
        level, below = divmod(height, HEIGHT)
        count = 1 << below
        first = index * count  # in units of tile level `level`'s hashes
        tile = self._tile(level, first // WIDTH)
        offset = first % WIDTH
        hashes = tile[offset : offset + count]
        if len(hashes) != count:
            raise ValueError(f"node ({height}, {index}) is not complete in a tree of {self.size}")
        return merkle.root(hashes) if count > 1 else hashes[0]


def check_bundle(bundle: Sequence[bytes], level0: bytes) -> None:
    """Each entry of an entry bundle hashes to its leaf in the level-0 tile; ValueError if not."""
    leaves = [level0[i : i + 32] for i in range(0, len(level0), 32)]
    if len(leaves) != len(bundle):
        raise ValueError(f"{len(bundle)} entries against a tile of {len(leaves)} leaves")
    for i, (data, leaf) in enumerate(zip(bundle, leaves, strict=True)):
        if merkle.leaf_hash(data) != leaf:
            raise ValueError(f"entry {i} of the bundle does not hash to its leaf")
