"""Public scan page at the Digital Link path, and member-only trace and CSV export."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import anyio
import anyio.to_thread
from fastapi import APIRouter, FastAPI, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from apps.beef import state
from apps.beef.chart import temperature_svg
from apps.beef.identifiers import (
    CSET82,
    IdentifierError,
    PackId,
    lot_key,
    pack_id,
    parse_pack_path,
    parse_pack_uri,
)
from apps.beef.qr import Label, QrError, decode_image, label_sheet_html, qr_png, qr_svg
from apps.beef.tables import event_objects, events, objects, readings
from apps.beef.views import SCANS, scan_view
from ledger.api.deps import MemberDep, StateDep
from ledger.api.middleware import request_method
from ledger.api.problems import problem_responses
from ledger.config import Settings
from ledger.errors import InvalidBody, InvalidRequest, NotFound, PayloadTooLarge, Unauthenticated
from ledger.storage.engine import read_transaction

PAGES = Path(__file__).with_name("pages")
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(str(PAGES)), autoescape=select_autoescape(["html"]))
)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STATUS_LABELS = {
    "on_sale": "On sale",
    "sold": "Sold",
    "recalled": "Recalled",
    "held": "Held by customs",
    "in_transit": "In transit",
    "in_supply_chain": "In the supply chain",
}
STATIC = {"verify.js": "text/javascript", "scan.css": "text/css", "labels.css": "text/css"}
MAX_PHOTO_BYTES = 8 * 1024 * 1024
# Photos decoded at once per worker process: each may hold a few hundred MB for a second or two
# (apps.beef.qr.MAX_PIXELS), so more uploads wait their turn here, on the event loop, instead
# of taking the threads every sync route runs on.
PHOTO_DECODERS = 2


def photo_decoders(request: Request) -> anyio.CapacityLimiter:
    """The app's own limiter, made on first use: a limiter belongs to the event loop that first
    waits on it, so one shared by apps on different loops (tests, embedding) could hang."""
    state = request.app.state
    limiter: anyio.CapacityLimiter | None = getattr(state, "beef_photo_decoders", None)
    if limiter is None:
        limiter = state.beef_photo_decoders = anyio.CapacityLimiter(PHOTO_DECODERS)
    return limiter


UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")

log = logging.getLogger("sealchain.api")


@asynccontextmanager
async def _flush_scans_on_shutdown(app: FastAPI) -> AsyncIterator[None]:
    """Scan counts wait in memory for up to a second (views.ScanCounter); a server told to stop
    writes them before the ledger closes its engine, so no scan is lost on a restart."""
    yield
    try:
        SCANS.flush(app.state.sealchain.node.engine)
    except SQLAlchemyError:
        # logged, not raised: the ledger's own shutdown (committing queued entries) still runs
        log.exception("could not write the pending beef scan counts")


# FastAPI runs an included router's lifespan inside the app's own (create_app): this one ends
# first, while the node is still open.
pages = APIRouter(tags=["beef pages"], lifespan=_flush_scans_on_shutdown)
router = APIRouter(tags=["beef"])


def _script_json(value: Any) -> str:
    """JSON safe inside <script type=application/json>: no '<', '>' or '&' can end the element."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@pages.get(
    "/01/{rest:path}",
    summary="Scan page of a pack (GS1 Digital Link); JSON with Accept: application/json",
    responses={404: {"description": "unknown code: possibly counterfeit"}},
)
def scan_page(request: Request, state_dep: StateDep, rest: str) -> Response:
    raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    try:
        pack = parse_pack_path(raw_path)
    except IdentifierError as e:
        raise NotFound(f"not a pack's Digital Link: {e}") from e
    policy = state_dep.node.log_policy
    # A HEAD (link previews, crawlers) is nobody scanning the label: it must not add to the
    # counts that warn of a copied code.
    counted = request_method(request.scope) != "HEAD"
    with read_transaction(state_dep.node.engine) as conn:
        view = scan_view(
            conn, pack, policy, count_scans_in=state_dep.node.engine if counted else None
        )
    status_code = 404 if view["status"] == "unknown" else 200
    if _wants_json(request):
        return JSONResponse(view, status_code=status_code, headers=SECURITY_HEADERS)
    if view["status"] == "unknown":
        return templates.TemplateResponse(
            request, "unknown.html", {"view": view}, status_code=404, headers=SECURITY_HEADERS
        )
    temps = view["temperatures"]
    context = {
        "view": view,
        "status_label": STATUS_LABELS[view["status"]],
        "chart": temperature_svg(temps),
        "excursions": sum(t["status"] != "ok" for t in temps),
        "alarms": sum(t["status"] == "alarm" for t in temps),
        "log_key_id": policy.logs[0].key_id_hex if policy.logs else "?",
        "proof_json": _script_json(view["verification"]),
    }
    return templates.TemplateResponse(request, "scan.html", context, headers=SECURITY_HEADERS)


@pages.get("/beef/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    if name not in STATIC:
        raise NotFound(f"no static file {name}")
    return FileResponse(PAGES / "static" / name, media_type=STATIC[name], headers=SECURITY_HEADERS)


def _lot_or_404(conn: Any, gtin: str, lot: str) -> dict[str, Any]:
    try:
        pack_id(gtin, lot, "0")
    except IdentifierError as e:  # such a lot cannot exist, so it is not on the ledger
        raise NotFound(f"no such lot: {e}") from e
    found = state.lot(conn, lot_key(gtin, lot))
    if found is None:
        raise NotFound(f"lot {lot} of GTIN {gtin} is not on the ledger")
    return found


Gtin = Annotated[
    str, Query(pattern=r"^[0-9]{14}$", description="GTIN-14; its check digit is checked")
]
Lot = Annotated[str, Query(min_length=1, max_length=20, pattern=CSET82.pattern)]


@router.get(
    "/trace",
    summary="Every pack, carton, container, holder and event of a lot (members only)",
    responses=problem_responses(NotFound, InvalidRequest, Unauthenticated),
)
def trace(state_dep: StateDep, _member: MemberDep, gtin: Gtin, lot: Lot) -> dict[str, Any]:
    with read_transaction(state_dep.node.engine) as conn:
        found = _lot_or_404(conn, gtin, lot)
        packs = conn.execute(
            select(objects).where(objects.c.lot_key == found["lot_key"]).order_by(objects.c.uri)
        ).all()
        uris = select(objects.c.uri).where(objects.c.lot_key == found["lot_key"])
        lot_events = select(event_objects.c.event_id).where(event_objects.c.uri.in_(uris))
        rows = conn.execute(
            select(events).where(events.c.event_id.in_(lot_events)).order_by(events.c.idx)
        ).all()
        # every carton and container the lot's packs were ever in, not only where they are now
        touched = select(event_objects.c.uri).where(event_objects.c.event_id.in_(lot_events))
        holders = conn.execute(
            select(objects)
            .where(objects.c.uri.in_(touched), objects.c.kind != "pack")
            .order_by(objects.c.uri)
        ).all()
    return {
        "lot": found,
        "packs": [_object_json(state.Obj(**_obj_fields(p))) for p in packs],
        "containers": [_object_json(state.Obj(**_obj_fields(h))) for h in holders],
        "events": [_event_json(r) for r in rows],
    }


def _obj_fields(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        k: m[k]
        for k in ("uri", "kind", "lot_key", "parent", "holder", "in_transit_to", "held", "sold_idx")
    }


def _object_json(obj: state.Obj) -> dict[str, Any]:
    return {
        "uri": obj.uri,
        "kind": obj.kind,
        "parent": obj.parent,
        "holder": obj.holder,
        "in_transit_to": obj.in_transit_to,
        "held": obj.held,
        "sold_index": obj.sold_idx,
    }


def _event_json(row: Any) -> dict[str, Any]:
    return {
        "index": row.idx,
        "tx_id": row.tx_id,
        "event_id": row.event_id,
        "type": row.record_type,
        "org": row.org,
        "biz_step": row.biz_step,
        "time": row.event_time,
        "place": json.loads(row.place),
        "summary": row.summary,
        "corrected": row.correction_note,
    }


CSV_FIELDS = [
    "event_time",
    "biz_step",
    "record_type",
    "org",
    "place",
    "city",
    "country",
    "event_id",
    "tx_id",
    "ledger_index",
    "objects",
    "temperature_min",
    "temperature_max",
    "corrected",
]


@router.get(
    "/export.csv",
    summary="Key data elements of each event of a lot in a time range, as CSV (members only)",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problem_responses(NotFound, InvalidRequest, Unauthenticated),
    },
)
def export_csv(
    state_dep: StateDep,
    _member: MemberDep,
    gtin: Gtin,
    lot: Lot,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    with read_transaction(state_dep.node.engine) as conn:
        found = _lot_or_404(conn, gtin, lot)
        uris = select(objects.c.uri).where(objects.c.lot_key == found["lot_key"])
        query = (
            select(events)
            .where(
                events.c.event_id.in_(
                    select(event_objects.c.event_id).where(event_objects.c.uri.in_(uris))
                )
            )
            .order_by(events.c.idx)
        )
        if since:
            query = query.where(events.c.event_time >= since)
        if until:
            query = query.where(events.c.event_time <= until)
        rows = conn.execute(query).all()
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in rows:
            place = json.loads(r.place)
            count = conn.execute(
                select(event_objects.c.uri).where(event_objects.c.event_id == r.event_id)
            ).all()
            temps = [
                t.value
                for t in conn.execute(
                    select(readings.c.value).where(readings.c.event_id == r.event_id)
                )
            ]
            writer.writerow(
                {
                    "event_time": r.event_time,
                    "biz_step": r.biz_step,
                    "record_type": r.record_type,
                    "org": r.org,
                    "place": place["name"],
                    "city": place["city"],
                    "country": place["country"],
                    "event_id": r.event_id,
                    "tx_id": r.tx_id,
                    "ledger_index": r.idx,
                    "objects": len(count),
                    "temperature_min": min(temps) if temps else "",
                    "temperature_max": max(temps) if temps else "",
                    "corrected": r.correction_note or "",
                }
            )
    return Response(
        out.getvalue(), media_type="text/csv", headers=_attachment(f"beef-{gtin}-{lot}.csv")
    )


def _attachment(filename: str) -> dict[str, str]:
    """Content-Disposition for a download named after a lot.

    GS1 lots may hold `"` `;` `%` `<` `>`, which inside a quoted filename would end the quote and
    add parameters of the lot owner's choosing. So `filename` keeps only [A-Za-z0-9._-] and
    `filename*` (RFC 6266, RFC 8187) carries the exact name percent-encoded.
    """
    safe = UNSAFE_IN_FILENAME.sub("_", filename)
    exact = quote(filename, safe="")
    return {"Content-Disposition": f"attachment; filename=\"{safe}\"; filename*=UTF-8''{exact}"}


def _pack_or_404(conn: Any, gtin: str, lot: str, serial: str) -> PackId:
    try:
        pack = pack_id(gtin, lot, serial)
    except IdentifierError as e:
        raise NotFound(f"no such pack: {e}") from e
    found = state.get(conn, pack.uri())
    if found is None or found.kind != "pack":
        raise NotFound(f"pack {serial} of lot {lot} is not on the ledger")
    return pack


def _resolver_uri(request: Request, settings: Settings, pack: PackId) -> str:
    """The Digital Link a label prints: the configured public base (SEALCHAIN_PUBLIC_URL), or
    else this request's own, so a phone opens this server's scan page."""
    base = settings.public_url or str(request.base_url)
    return pack.uri(base.rstrip("/"))


QR_FORMATS = {"png": ("image/png", qr_png), "svg": ("image/svg+xml", qr_svg)}


@router.get(
    "/qr/{gtin}/{lot}/{image}",
    summary="QR code of a pack's Digital Link: `<serial>.png` or `<serial>.svg`",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}, "image/svg+xml": {}}},
        **problem_responses(NotFound, InvalidRequest),
    },
)
def qr_image(request: Request, state_dep: StateDep, gtin: str, lot: str, image: str) -> Response:
    serial, _, kind = image.rpartition(".")
    if kind not in QR_FORMATS:
        raise NotFound("QR codes are served as <serial>.png or <serial>.svg")
    media_type, render = QR_FORMATS[kind]
    with read_transaction(state_dep.node.engine) as conn:
        pack = _pack_or_404(conn, gtin, lot, serial)
    return Response(
        render(_resolver_uri(request, state_dep.node.settings, pack)),
        media_type=media_type,
        headers=SECURITY_HEADERS,
    )


@router.get(
    "/labels",
    summary="Printable label sheet (HTML) with a QR code per pack of a lot",
    response_class=HTMLResponse,
    responses=problem_responses(NotFound, InvalidRequest),
)
def labels(request: Request, state_dep: StateDep, gtin: Gtin, lot: Lot) -> HTMLResponse:
    policy = state_dep.node.log_policy
    key_id = policy.logs[0].key_id_hex if policy.logs else "?"
    with read_transaction(state_dep.node.engine) as conn:
        found = _lot_or_404(conn, gtin, lot)
        uris = (
            conn.execute(
                select(objects.c.uri)
                .where(objects.c.lot_key == found["lot_key"])
                .order_by(objects.c.uri)
            )
            .scalars()
            .all()
        )
    data = found["data"]
    sheet = [
        Label(
            uri=_resolver_uri(request, state_dep.node.settings, pack),
            product=data["productName"],
            gtin=pack.gtin,
            lot=pack.lot,
            serial=pack.serial,
            best_before=str(data["bestBefore"]),
            log_key_id=key_id,
        )
        for pack in (parse_pack_uri(u) for u in uris)
    ]
    html = label_sheet_html(sheet, title=f"{data['productName']} · lot {lot} · {len(sheet)} packs")
    return HTMLResponse(html, headers=SECURITY_HEADERS)


@router.post(
    "/scan",
    summary="Upload a photo of a label: answers 303 to the pack's scan page",
    status_code=303,
    responses={
        303: {"description": "the scan page"},
        **problem_responses(InvalidBody, PayloadTooLarge, InvalidRequest),
    },
)
async def scan_photo(request: Request, photo: UploadFile) -> Response:
    data = await photo.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise PayloadTooLarge(f"the photo is over {MAX_PHOTO_BYTES // (1024 * 1024)} MiB")
    try:
        # Off the event loop: decoding takes up to seconds of CPU, and every other request of
        # this worker would wait for it.
        texts = await anyio.to_thread.run_sync(decode_image, data, limiter=photo_decoders(request))
    except QrError as e:
        raise InvalidBody(str(e)) from e
    for text in texts:
        try:
            pack = parse_pack_uri(text)
        except IdentifierError:
            continue
        return RedirectResponse(pack.path(), status_code=303)
    raise InvalidBody("the QR code in the photo is not a pack's GS1 Digital Link")


@pages.get("/beef/scan", include_in_schema=False)
def upload_page() -> HTMLResponse:
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Scan a beef label</title>"
        '<link rel="stylesheet" href="/beef/static/scan.css"></head><body>'
        '<header class="banner status-in_supply_chain"><strong>Scan a label</strong>'
        "Take or upload a photo of the QR code on the pack.</header><main><section>"
        '<form method="post" action="/v1/beef/scan" enctype="multipart/form-data">'
        '<input type="file" name="photo" accept="image/*" capture="environment" required> '
        '<button type="submit">Check this pack</button></form></section></main></body></html>'
    )
    return HTMLResponse(html, headers=SECURITY_HEADERS)
