"""The log as C2SP tlog-tiles (docs/api.md "Tiles"): `/checkpoint`, `/tile/<L>/<N>[.p/<W>]`
and `/tile/entries/<N>[.p/<W>]`, served at the root so the log's prefix is the server's URL.

Tiles and bundles never change once they exist (a partial tile of width W is the same bytes
forever; the full tile is another URL), so they are cacheable for a year by any CDN or peer;
the checkpoint changes with every block and is cacheable for a few seconds at most. Only what
the latest checkpoint covers is served: a tile is never ahead of a signed tree head. Each
process keeps the tiles it served last in memory (TileCache): a hit reads no database.

Tiles and bundles are read from the hot standby when one is configured
(SEALCHAIN_READ_DATABASE_URL): one beyond the standby's latest checkpoint is looked for again
on the primary, so a client holding the primary's newer checkpoint never gets a 404 for one of
its tiles. The checkpoint itself is always the primary's.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from ledger.api.deps import ApiState, StateDep
from ledger.api.problems import problem_responses
from ledger.core import tiles
from ledger.errors import InvalidRequest, NotFound
from ledger.service import proofs
from ledger.service.node import LedgerNode
from ledger.storage.engine import read_transaction
from ledger.storage.repository import Repository

router = APIRouter(tags=["tiles"])
IMMUTABLE = "public, max-age=31536000, immutable"
OCTETS = "application/octet-stream"
CACHE_BYTES = 64 * 1024 * 1024  # per process: 8,000 hash tiles, or a few large entry bundles
TilePath = Annotated[
    str,
    Path(
        description="<N>[.p/<W>]: x-prefixed 3-digit groups, e.g. x001/234",
        # Documented, and checked by _parse, whose message names the tlog-tiles form.
        json_schema_extra={"pattern": tiles.PATH_PATTERN},
    ),
]


@router.get(
    "/checkpoint",
    summary="The latest checkpoint as a C2SP signed note (tlog-tiles)",
    response_class=PlainTextResponse,
    responses=problem_responses(NotFound),
)
async def checkpoint(state: StateDep) -> Response:
    return await state.reads().run(_checkpoint, state.node)


def _checkpoint(node: LedgerNode) -> Response:
    # The latest is the primary's, never a standby's: one row, cached by CDNs for 2 s, and a
    # client that saw size N must not be shown a smaller tree next (`checkpoint --since`
    # would call that a FORK), nor a witness miss the newest cosignatures.
    with read_transaction(node.engine) as conn:
        _, note_text = proofs.checkpoint_with_cosignatures(conn, None)
    return PlainTextResponse(
        note_text, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "max-age=2"}
    )


def _parse(rest: str) -> tuple[int, int]:
    try:
        return tiles.parse_tile_path(rest)
    except ValueError as e:
        raise InvalidRequest(f"{e} (tlog-tiles paths: tile/<L>/<N>[.p/<W>])") from None


class TileCache:
    """The tiles and bundles one process served last, up to `limit` bytes, least recently used
    first out. A tile's bytes never change once the log has them (a partial tile of width W is
    the same forever), and a tile in here was covered by a checkpoint when it was read, which
    stays true: so a hit needs no database at all, not even for the latest checkpoint."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self._items: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._lock = (
            threading.Lock()
        )  # hits are looked up on the event loop, misses kept from threads

    def get(self, path: str) -> tuple[bytes, str] | None:
        with self._lock:
            found = self._items.get(path)
            if found is not None:
                self._items.move_to_end(path)
            return found

    def put(self, path: str, body: bytes) -> tuple[bytes, str]:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        with self._lock:
            if path not in self._items and len(body) <= self.limit:
                self._items[path] = (body, etag)
                self.size += len(body)
                while self.size > self.limit:
                    _, (old, _) = self._items.popitem(last=False)
                    self.size -= len(old)
        return body, etag


# One cache per ledger a process serves (tests and peers open several), keyed by its engine.
_caches: WeakKeyDictionary[Engine, TileCache] = WeakKeyDictionary()


def _cache(node: LedgerNode) -> TileCache:
    cache = _caches.get(node.engine)
    if cache is None:
        cache = _caches.setdefault(node.engine, TileCache())
    return cache


def _read_and_keep(
    state: ApiState, cache: TileCache, path: str, read: Callable[[Connection], bytes]
) -> tuple[bytes, str]:
    """A tile or bundle missing from the cache: read (from the standby if there is one, else
    the primary) and kept, with its ETag."""
    return cache.put(path, state.node.read_with_fallback(read))


def _immutable(request: Request, body: bytes, etag: str) -> Response:
    headers = {"Cache-Control": IMMUTABLE, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=OCTETS, headers=headers)


def _covered_width(repo: Repository, level: int, n: int) -> int:
    latest = repo.checkpoint()
    return 0 if latest is None else tiles.width_at(level, n, latest[0])


@router.get(
    "/tile/entries/{rest:path}",
    summary="An entry bundle: 256 entries (fewer if partial), uint16 length-prefixed",
    response_class=Response,
    responses={200: {"content": {OCTETS: {}}}, **problem_responses(NotFound, InvalidRequest)},
)
async def entry_bundle(request: Request, state: StateDep, rest: TilePath) -> Response:
    n, width = _parse(rest)
    path = tiles.tile_path("entries", n, width)
    cache = _cache(state.node)
    hit = cache.get(path)
    if hit is not None:
        return _immutable(request, *hit)
    first = n * tiles.WIDTH

    def read(conn: Connection) -> bytes:
        repo = Repository(conn)
        if width > _covered_width(repo, 0, n):
            raise NotFound(f"no entry bundle {tiles.tile_path('entries', n, width)} in this log")
        found = repo.entry_data(range(first, first + width))
        return tiles.entry_bundle([found[first + i] for i in range(width)])

    # A hit answers on the event loop. A miss reads, and hashes for its ETag, a bundle that can
    # be megabytes: on the shared pool, not the few read threads that quick reads queue on.
    return _immutable(request, *await run_in_threadpool(_read_and_keep, state, cache, path, read))


@router.get(
    "/tile/{level}/{rest:path}",
    summary="A tile of Merkle tree hashes: 256 (fewer if partial) 32-byte hashes",
    response_class=Response,
    responses={200: {"content": {OCTETS: {}}}, **problem_responses(NotFound, InvalidRequest)},
)
async def tile(
    request: Request,
    state: StateDep,
    level: Annotated[int, Path(ge=0, le=63)],
    rest: TilePath,
) -> Response:
    if request.path_params.get("level") != str(level):  # "01" is not level 1: one URL each
        raise InvalidRequest("a tile level is a decimal integer with no leading zeroes")
    n, width = _parse(rest)
    path = tiles.tile_path(level, n, width)
    cache = _cache(state.node)
    hit = cache.get(path)
    if hit is not None:
        return _immutable(request, *hit)

    def read(conn: Connection) -> bytes:
        repo = Repository(conn)
        if width > _covered_width(repo, level, n):
            raise NotFound(f"no tile {tiles.tile_path(level, n, width)} in this log")
        coords = tiles.node_coords(level, n, width)
        found = repo.get_nodes(coords)
        return tiles.encode_tile([found[c] for c in coords])

    # A hit answers on the event loop; a miss (256 hashes) reads on the read threads.
    return _immutable(request, *await state.reads().run(_read_and_keep, state, cache, path, read))
