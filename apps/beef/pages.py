"""Public pages at the site root: a pack's scan page at its GS1 Digital Link, and the page to
upload a photo of a label.

The scan page carries no fact from the projection tables: it carries the proof bundle of the
entries about the pack, and its script (site/static/scan.js) verifies them and derives what
it shows. The server adds only its own statement, set apart: how many networks scanned the
code. With `Accept: application/json` the same route answers the server's view beside the
bundle (views.server_view), for `sealchain scan` and other programs.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request, Response
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.background import BackgroundTask

from apps.beef import lottree, state, views
from apps.beef.coldchain import ColdChain
from apps.beef.identifiers import IdentifierError, PackId, parse_pack_path
from apps.beef.journey import LotProof
from apps.beef.scans import SCANS, SECRET_PURPOSE, ScanCount, clone_warning, source_of
from ledger.plugin import (
    SECURITY_HEADERS,
    BatchedWorker,
    DirectRoute,
    JSONAnswer,
    Ledger,
    NotFound,
    Site,
    get_ledger,
    is_head,
    ledger_of,
    tr,
)

SITE = Site("beef", Path(__file__).with_name("site"))
COLD_CHAIN = ColdChain()
log = logging.getLogger("sealchain.api")
# Scan threads per worker process. On SQLite a scan is Python under the GIL and local page
# reads, and one thread served the most (taking turns at 10^4 packs: 1 thread against 2, 4 and
# the shared 40). PostgreSQL queries wait on the network, which other threads can use
# meanwhile. The threads are a BatchedWorker's (one wake-up of the event loop for the scans
# finished meanwhile, not one per scan: about 25% more scans/s at 10^4 packs, measured taking
# turns). Scans on the event loop itself served about as many, but one in a hundred waited
# 100-300 ms where threads kept the 99th percentile near 35 ms (docs/benchmarks.md).
SCAN_WORKER = "beef_scan_worker"  # app.state attribute


@asynccontextmanager
async def _flush_scans_on_shutdown(app: FastAPI) -> AsyncIterator[None]:
    """Scan counts wait in memory for up to a second (scans.ScanCounter); a server told to stop
    writes them before the ledger closes its engine, so no scan is lost on a restart."""
    yield
    worker: BatchedWorker | None = getattr(app.state, SCAN_WORKER, None)
    if worker is not None:
        delattr(app.state, SCAN_WORKER)  # an app started again makes a new one
        # The scans it has queued run first, and are counted; waited for off the loop.
        await anyio.to_thread.run_sync(worker.close)
    _flush_scans(ledger_of(app).engine)


def _flush_scans(engine: Engine) -> None:
    try:
        SCANS.flush(engine)
    except SQLAlchemyError:
        # Logged, not raised: the counts wait for the next flush (ScanCounter.flush), and at
        # shutdown the ledger's own (committing queued entries) still runs.
        log.exception("could not write the pending beef scan counts")


# FastAPI runs an included router's lifespan inside the app's own: this one ends first, while
# the ledger is still open.
pages = APIRouter(tags=["beef pages"], lifespan=_flush_scans_on_shutdown)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _scans_json(count: ScanCount | None, sold: bool) -> dict[str, Any] | None:
    if count is None:
        return None
    warning = clone_warning(count, sold)
    return {
        "sources": count.sources,
        "after_sale": count.after_sale,
        "since": count.first_at,
        "counted": count.counted,
        "warning": None if warning is None else warning[0] % warning[1],
    }


async def scan_page(request: Request) -> Response:
    # A DirectRoute: FastAPI's dependency solving for this route took 14 % of the worker's GIL
    # time under load, as much as the scan's own statements (docs/benchmarks.md); the path is
    # read from the raw request (its `rest` documented below).
    ledger = await get_ledger(request)
    # On its own few threads (BatchedWorker.for_reads), not the 40 every sync route shares: 32
    # phones at once on 32 threads took turns on the GIL; the rest wait on the event loop, in
    # order. Not the ledger's shared read threads: at shutdown this app closes its own worker,
    # so the scans it ran are counted before the last flush.
    response = await _scan_worker(request, ledger).run(_scan_page, request, ledger)
    if SCANS.claim_flush():
        # After the answer, on a thread of the shared pool: the write waits for the write lock
        # and an fsync, which neither this request nor the scan threads should.
        response.background = BackgroundTask(_flush_scans, ledger.engine)
    return response


pages.add_api_route(
    "/01/{rest:path}",
    scan_page,
    methods=["GET"],
    route_class_override=DirectRoute,
    summary="Scan page of a pack (GS1 Digital Link); JSON with Accept: application/json",
    responses={404: {"description": "unknown code: possibly counterfeit"}},
    openapi_extra={
        "parameters": [
            {
                "name": "rest",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "title": "Rest"},
            }
        ]
    },
)


def _scan_worker(request: Request, ledger: Ledger) -> BatchedWorker:
    """The app's scan worker, made on first use (with as many threads as the dialect wants)."""
    app_state = request.app.state
    worker: BatchedWorker | None = getattr(app_state, SCAN_WORKER, None)
    if worker is None:
        worker = BatchedWorker.for_reads("beef-scans", ledger.engine.dialect.name)
        setattr(app_state, SCAN_WORKER, worker)
    return worker


# What a scan reads in one transaction: bundle, sold, server view, lot path, count.
_ScanRead = tuple[dict[str, Any], bool, dict[str, Any], LotProof, ScanCount | None]


def _scan_page(request: Request, ledger: Ledger) -> Response:
    raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    try:
        pack = parse_pack_path(raw_path)
    except IdentifierError as e:
        raise NotFound(tr("Not a pack's Digital Link: %(reason)s", reason=str(e))) from e
    wants_json = _wants_json(request)

    # A HEAD (link previews, crawlers) is nobody scanning the label; and a witness peer
    # serving the page from its replica keeps no counts (they are the log's statements).
    counting = ledger.is_log and not is_head(request)

    uri = pack.uri()

    def read(conn: Connection) -> _ScanRead:
        found = state.pack_and_lot(conn, uri)
        if found is None:
            raise NotFound("no such pack")  # on a standby: perhaps not replayed yet
        obj, lot, tree = found
        events = state.pack_events(conn, uri)
        indexes, proof = _entries_about(state.entry_indexes(events), uri, lot, tree)
        bundle = ledger.page_bundle(conn, indexes)
        server = {}
        if wants_json:
            server = views.server_view(conn, obj, lot, events, ledger.members(conn))
        sold = obj.sold_idx is not None
        # Counted in this transaction when it is the primary's, which the counts are written
        # to (one transaction a scan instead of two); a standby's read is counted after it.
        # read_with_fallback may run `read` twice, but the primary's run is always its last.
        on_primary = counting and conn.engine is ledger.engine
        count = _count_scan(request, ledger, conn, uri, sold) if on_primary else None
        return bundle, sold, server, proof, count

    # The pack and its proofs from the standby when there is one (the primary if it has not
    # replayed the pack yet): the scan page is the read a whole market's phones make.
    try:
        bundle, sold, server, lot_proof, count = ledger.read_with_fallback(read)
    except NotFound:
        return _unknown(request, pack)
    if counting and count is None:
        # Read from a standby: count on the primary all the same, as a standby would miss the
        # counts this process flushed a moment ago (the count would drop after each flush).
        with ledger.read() as conn:
            count = _count_scan(request, ledger, conn, uri, sold)
    if wants_json:
        view = {
            "pack": views.subject(pack, COLD_CHAIN, lot_proof)["pack"],
            **server,
            "scans": _scans_json(count, sold),
            "verification": bundle,
        }
        return JSONAnswer(view, headers=SECURITY_HEADERS)
    warning = clone_warning(count, sold) if count is not None else None
    context = {
        "pack": pack,
        "bundle": bundle,
        "subject": views.subject(pack, COLD_CHAIN, lot_proof),
        "scans": count,
        "warning": warning,
        "log_key_id": ledger.policy.logs[0].key_id_hex if ledger.policy.logs else "?",
    }
    return SITE.render(request, "scan.html", context)


def _entries_about(
    indexes: list[int], uri: str, lot: dict[str, Any], tree: state.LotTree | None
) -> tuple[list[int], LotProof]:
    """The entries a scan proves: those about the pack (`indexes`), with a committed lot's
    commitment in place of its commissioning (a short entry and one path instead of every
    pack's URI)."""
    at = None if tree is None else lottree.position(tree.tree, tree.packs, uri)
    if tree is None or at is None:
        return indexes, None
    path = lottree.path(tree.tree, tree.packs, at)
    commissioned = lot["commissioned_idx"]
    return [i for i in indexes if i != commissioned] + [tree.idx], {
        "index": at,
        "path": [base64.b64encode(p).decode() for p in path],
    }


def _count_scan(
    request: Request, ledger: Ledger, conn: Connection, uri: str, sold: bool
) -> ScanCount:
    address = request.client.host if request.client else "unknown"
    source = source_of(ledger.secret(SECRET_PURPOSE), address)
    return SCANS.record(ledger.engine, conn, uri, source, sold=sold)


def _unknown(request: Request, pack: PackId) -> Response:
    message = tr("This code was never registered on the ledger: it may be counterfeit.")
    if _wants_json(request):
        body = {
            "pack": {"uri": pack.uri(), "gtin": pack.gtin, "lot": pack.lot, "serial": pack.serial},
            "status": "unknown",
            "message": str(message),
        }
        return JSONAnswer(body, status_code=404, headers=SECURITY_HEADERS)
    return SITE.render(request, "unknown.html", {"pack": pack}, status_code=404)


@pages.get("/beef/scan", include_in_schema=False)
def upload_page(request: Request) -> Response:
    return SITE.render(request, "upload.html")
