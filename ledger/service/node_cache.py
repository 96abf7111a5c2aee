"""The upper levels of the Merkle tree kept in memory per process, so a proof reads only its few
low nodes from the database at any tree size.

A node (level, i) covers leaves [i * 2^level, (i + 1) * 2^level) and never changes once its
subtree is complete, in an honest log. Every proof shares the top of the tree; what differs is
the few nodes near its leaf. So this keeps levels >= `lowest_level(size)` (level 5 below 2^20
entries, one higher per doubling after: at most MAX_NODES hashes, 2 MiB, per engine whatever the
size), read in one statement when a proof first needs them and extended with the new nodes when
the tree has grown.

What it serves, and why that is safe:

- Only nodes inside a signed checkpoint it read (its *anchor*): level l holds nodes 0 to
  (size >> l) - 1 of the anchor's size, contiguous, each one complete in that tree.
- Only read in a read transaction, which sees committed rows alone: a connection of a write
  transaction (the sequencer, a witness replica's block, which rolls back when its root is not
  the log's) neither reads nor fills the cache, so nodes of a transaction that rolls back never
  reach it.
- Whenever a proof sees a head other than the one the cache was last checked under, the
  anchor's checkpoint is read again: if its note is not the one the cache was filled under (an
  operator rewrote history, `ledger.service.rewrite`, in this process or another), everything is
  dropped. A rewrite changes every checkpoint from the rewritten entry on, so it always changes
  the anchor's when it touches a cached node. A head older than the anchor (a lagging snapshot)
  is served from the database, the cache left as it is.
- One cache per Engine: a standby's engine has its own, checked against the standby's own head.

A database without any checkpoint (storage built by hand, as some tests do) is never cached.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Connection, Dialect, Engine, select

from ledger.core import merkle
from ledger.core.block import BlockHeader, decode_header
from ledger.storage.repository import Repository
from ledger.storage.tables import SPAN_LEVELS, blocks

# Levels below hold 31/32 of the tree: they stay in the database, stored by span (one or two
# pages a proof); the storage reads levels from SPAN_LEVELS up by level ranges.
MIN_LEVEL = SPAN_LEVELS
MAX_NODES_LOG = 16
MAX_NODES = 1 << MAX_NODES_LOG  # cached hashes per engine at most: 2 MiB of 32-byte hashes
HASH = merkle.HASH_LEN


def lowest_level(size: int) -> int:
    """The lowest level cached for a tree of `size`: Σ size >> l over l >= it is < MAX_NODES."""
    return max(MIN_LEVEL, size.bit_length() + 1 - MAX_NODES_LOG)


@dataclass(frozen=True)
class _Levels:
    """Levels >= `lowest` of the tree of the checkpoint (`size`, `note`): per level, the hashes
    of its nodes 0 to (size >> level) - 1, concatenated (shorter only after a missing row)."""

    lowest: int
    size: int
    note: str
    hashes: dict[int, bytes]

    def get(self, level: int, index: int) -> bytes | None:
        if level < self.lowest:
            return None
        row = self.hashes.get(level, b"")
        start = index * HASH
        return row[start : start + HASH] if start + HASH <= len(row) else None

    def short_of(self, head: BlockHeader, wanted: Iterable[merkle.Coord]) -> bool:
        """Whether the tree has grown past these levels and some wanted node is beyond them."""
        return self.size < head.size and any(
            level >= self.lowest and self.get(level, index) is None for level, index in wanted
        )

    def nodes(self) -> int:
        return sum(len(row) for row in self.hashes.values()) // HASH


@dataclass(frozen=True)
class _State:
    head: BlockHeader | None  # the head the levels were last checked under
    levels: _Levels | None  # None: nothing to serve under that head


class NodeCache:
    """The cached upper levels of one engine's tree; safe to share between threads (readers
    take the current state without a lock; checks and extensions take it)."""

    def __init__(self) -> None:
        self._state = _State(None, None)
        self._lock = threading.Lock()

    def cached_nodes(self) -> int:
        levels = self._state.levels
        return 0 if levels is None else levels.nodes()

    def read(
        self, conn: Connection, head: BlockHeader, coords: Collection[merkle.Coord]
    ) -> dict[merkle.Coord, bytes]:
        """The stored hashes at `coords` (all inside the tree of `head`, which `conn`'s read
        transaction just read; a coordinate may repeat): the cached ones from memory, the
        others in one statement."""
        if not coords:
            return {}
        levels = self._levels_for(conn, head, coords)
        if levels is None:
            return Repository(conn).get_nodes(coords)
        found: dict[merkle.Coord, bytes] = {}
        rest: list[merkle.Coord] = []
        lowest, hashes = levels.lowest, levels.hashes  # _Levels.get inlined: the hot loop
        for coord in coords:
            level = coord[0]
            if level >= lowest and level in hashes:
                start = coord[1] * HASH
                digest = hashes[level][start : start + HASH]
                if len(digest) == HASH:
                    found[coord] = digest
                    continue
            rest.append(coord)
        if rest:
            found.update(Repository(conn).get_nodes(rest))
        return found

    def _levels_for(
        self, conn: Connection, head: BlockHeader, wanted: Collection[merkle.Coord]
    ) -> _Levels | None:
        """The levels that may be served under `head`: checked against the anchor's checkpoint
        once per new head, grown when the tree has and a wanted node is beyond them."""
        state = self._state
        if (state.head is head or state.head == head) and (
            state.levels is None or not state.levels.short_of(head, wanted)
        ):
            return state.levels
        with self._lock:
            state = self._state
            levels = state.levels
            repo = Repository(conn)
            if state.head != head and levels is not None:
                if head.size < levels.size:
                    return None  # an older snapshot than the anchor's: the database answers
                stored = repo.checkpoint(levels.size)
                if stored is None or stored[1] != levels.note:
                    levels = None  # history rewritten under the anchor: forget it all
            if (levels is None and state.head != head) or (
                levels is not None and levels.short_of(head, wanted)
            ):
                levels = _grown(repo, head, levels)
            self._state = _State(head, levels)
            return levels


def _grown(repo: Repository, head: BlockHeader, levels: _Levels | None) -> _Levels | None:
    """`levels` extended to the latest checkpoint and anchored there, with one statement; None
    if there is no checkpoint (nothing is cached without one)."""
    latest = repo.checkpoint()
    if latest is None or latest[0] > head.size:
        return levels  # none, or committed after the head was read: not in this tree
    size, note = latest
    if levels is not None and size <= levels.size:
        return levels
    lowest = lowest_level(size)
    hashes = {} if levels is None else {lv: r for lv, r in levels.hashes.items() if lv >= lowest}
    ranges = [
        (level, len(hashes.get(level, b"")) // HASH, size >> level)
        for level in range(lowest, size.bit_length())
    ]
    ranges = [(level, first, end) for level, first, end in ranges if first < end]
    expected = {level: first for level, first, _ in ranges}
    grown: dict[int, list[bytes]] = {}
    for level, index, digest in repo.upper_levels(ranges):
        if index != expected[level] or len(digest) != HASH:
            expected[level] = -1  # a missing or bad row: keep the level up to it only
            continue
        grown.setdefault(level, []).append(digest)
        expected[level] = index + 1
    for level, row in grown.items():
        hashes[level] = hashes.get(level, b"") + b"".join(row)
    return _Levels(lowest, size, note, hashes)


_HEAD = select(blocks.c.header).order_by(blocks.c.height.desc()).limit(1)
_last_head: tuple[bytes, BlockHeader] | None = None  # the header bytes read last, decoded


@lru_cache(maxsize=8)
def _head_sql(dialect: Dialect) -> str:
    return str(_HEAD.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def current_head(conn: Connection) -> BlockHeader | None:
    """The latest block header, as Repository.head, for the proof path: the statement runs on
    the driver, and bytes equal to the last ones read are not decoded again (a proof's fixed
    cost was a third SQLAlchemy's and the header's JSON)."""
    global _last_head
    row = conn.exec_driver_sql(_head_sql(conn.dialect)).first()
    if row is None:
        return None
    raw = bytes(row[0])
    last = _last_head
    if last is not None and last[0] == raw:
        return last[1]
    header = decode_header(raw)
    _last_head = (raw, header)
    return header


_caches: weakref.WeakKeyDictionary[Engine, NodeCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(engine: Engine) -> NodeCache:
    """The engine's node cache (made on first use; it goes with the engine)."""
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = NodeCache()
        return cache


def read_nodes(
    conn: Connection, head: BlockHeader, coords: Collection[merkle.Coord]
) -> dict[merkle.Coord, bytes]:
    """Stored hashes at `coords` inside the tree of `head`, through the engine's cache in a
    read transaction; straight from the database in a write transaction (its rows may still
    roll back)."""
    if conn.get_execution_options().get("sealchain_write"):
        return Repository(conn).get_nodes(coords)
    return cache_for(conn.engine).read(conn, head, coords)
