"""Public routes under /v1/beef: QR images and label sheets of packs, and the photo upload
that resolves a label to its scan page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection

from apps.beef import state
from apps.beef.identifiers import (
    CSET82,
    IdentifierError,
    PackId,
    lot_key,
    pack_id,
    parse_pack_uri,
)
from apps.beef.pages import SITE
from apps.beef.qr import QrError, decode_image, qr_png, qr_svg
from ledger.plugin import (
    SECURITY_HEADERS,
    InvalidBody,
    InvalidRequest,
    Ledger,
    LedgerDep,
    NotFound,
    PayloadTooLarge,
    problem_responses,
    tr,
)

MAX_PHOTO_BYTES = 8 * 1024 * 1024
# Photos decoded at once per worker process: each may hold a few hundred MB for a second or two
# (apps.beef.qr.MAX_PIXELS), so more uploads wait their turn here, on the event loop, instead
# of taking the threads every sync route runs on.
PHOTO_DECODERS = 2
QR_FORMATS: dict[str, tuple[str, Callable[[str], bytes | str]]] = {
    "png": ("image/png", qr_png),
    "svg": ("image/svg+xml", qr_svg),
}

router = APIRouter(tags=["beef"])

Gtin = Annotated[
    str, Query(pattern=r"^[0-9]{14}$", description="GTIN-14; its check digit is checked")
]
Lot = Annotated[str, Query(min_length=1, max_length=20, pattern=CSET82.pattern)]


def photo_decoders(request: Request) -> anyio.CapacityLimiter:
    """The app's own limiter, made on first use: a limiter belongs to the event loop that first
    waits on it, so one shared by apps on different loops (tests, embedding) could hang."""
    app_state = request.app.state
    limiter: anyio.CapacityLimiter | None = getattr(app_state, "beef_photo_decoders", None)
    if limiter is None:
        limiter = app_state.beef_photo_decoders = anyio.CapacityLimiter(PHOTO_DECODERS)
    return limiter


def lot_or_404(conn: Connection, gtin: str, lot: str) -> dict[str, object]:
    try:
        pack_id(gtin, lot, "0")
    except IdentifierError as e:  # such a lot cannot exist, so it is not on the ledger
        raise NotFound(tr("No such lot: %(reason)s", reason=str(e))) from e
    found = state.lot(conn, lot_key(gtin, lot))
    if found is None:
        raise NotFound(tr("Lot %(lot)s of GTIN %(gtin)s is not on the ledger.", lot=lot, gtin=gtin))
    return found


def _pack_or_404(conn: Connection, gtin: str, lot: str, serial: str) -> PackId:
    try:
        pack = pack_id(gtin, lot, serial)
    except IdentifierError as e:
        raise NotFound(tr("No such pack: %(reason)s", reason=str(e))) from e
    found = state.get(conn, pack.uri())
    if found is None or found.kind != "pack":
        raise NotFound(
            tr("Pack %(serial)s of lot %(lot)s is not on the ledger.", serial=serial, lot=lot)
        )
    return pack


def _resolver_uri(request: Request, ledger: Ledger, pack: PackId) -> str:
    """The Digital Link a label prints: the configured public base (SEALCHAIN_PUBLIC_URL), or
    else this request's own, so a phone opens this server's scan page."""
    base = ledger.public_url or str(request.base_url)
    return pack.uri(base.rstrip("/"))


@router.get(
    "/qr/{gtin}/{lot}/{image}",
    summary="QR code of a pack's Digital Link: `<serial>.png` or `<serial>.svg`",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}, "image/svg+xml": {}}},
        **problem_responses(NotFound, InvalidRequest),
    },
)
def qr_image(request: Request, ledger: LedgerDep, gtin: str, lot: str, image: str) -> Response:
    serial, _, kind = image.rpartition(".")
    if kind not in QR_FORMATS:
        raise NotFound(tr("QR codes are served as <serial>.png or <serial>.svg."))
    media_type, render = QR_FORMATS[kind]
    with ledger.read() as conn:
        pack = _pack_or_404(conn, gtin, lot, serial)
    body = render(_resolver_uri(request, ledger, pack))
    return Response(body, media_type=media_type, headers=SECURITY_HEADERS)


@router.get(
    "/labels",
    summary="Printable label sheet (HTML) with a QR code per pack of a lot",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}, **problem_responses(NotFound, InvalidRequest)},
)
def labels(request: Request, ledger: LedgerDep, gtin: Gtin, lot: Lot) -> Response:
    key_id = ledger.policy.logs[0].key_id_hex if ledger.policy.logs else "?"
    with ledger.read() as conn:
        found = lot_or_404(conn, gtin, lot)
        uris = state.lot_uris(conn, str(found["lot_key"]))
    data = found["data"]
    assert isinstance(data, dict)
    packs = [parse_pack_uri(u) for u in uris]
    sheet = [
        {
            "qr_svg": qr_svg(_resolver_uri(request, ledger, pack)),
            "product": data["productName"],
            "gtin": pack.gtin,
            "lot": pack.lot,
            "serial": pack.serial,
            "best_before": str(data["bestBefore"]),
            "log_key_id": key_id,
        }
        for pack in packs
    ]
    title = SITE.gettext(
        "%(product)s · lot %(lot)s · %(n)s packs",
        product=data["productName"],
        lot=lot,
        n=len(sheet),
    )
    return SITE.render(request, "labels.html", {"labels": sheet, "title": title})


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
        raise PayloadTooLarge(
            tr("The photo is over %(size)s MiB.", size=MAX_PHOTO_BYTES // (1024 * 1024))
        )
    try:
        # Off the event loop: decoding takes up to seconds of CPU, and every other request of
        # this worker would wait for it.
        texts = await anyio.to_thread.run_sync(decode_image, data, limiter=photo_decoders(request))
    except QrError as e:
        raise InvalidBody(e.args[0] if e.args else str(e)) from e
    for text in texts:
        try:
            pack = parse_pack_uri(text)
        except IdentifierError:
            continue
        return RedirectResponse(pack.path(), status_code=303)
    raise InvalidBody(tr("The QR code in the photo is not a pack's GS1 Digital Link."))
