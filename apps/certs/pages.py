"""Public pages: a certificate's page at /certs/{number}, with its QR code and a status the
reader's browser computes from the signed entries (site/static/certificate.js): the
application and its lab reports, the issue entry, whose credential names the certificate, and
every status or change entry about it."""

from __future__ import annotations

from typing import Any

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import Connection

from apps.certs import state
from apps.certs.site import SITE
from ledger.plugin import LedgerDep, NotFound

pages = APIRouter(tags=["certs pages"])


def qr_svg(url: str) -> Markup:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    svg: str = image.to_string(encoding="unicode")
    return Markup(svg)  # noqa: S704 - made here by qrcode from a URL, not from input text


@pages.get(
    "/certs/{number}",
    summary="A certificate's page, its status verified in the browser",
    response_class=HTMLResponse,
    responses={404: {"description": "no such certificate", "content": {"text/html": {}}}},
)
def certificate_page(request: Request, ledger: LedgerDep, number: str) -> Response:
    def read(conn: Connection) -> dict[str, Any]:
        cert = state.certificate(conn, number)
        if cert is None:
            raise NotFound("no such certificate")  # on a standby: perhaps not replayed yet
        applied = state.application(conn, cert.application)
        assert applied is not None  # the rules refuse an issue without its application
        reports = state.lab_reports_of(conn, cert.application)
        indexes = [applied.idx, *(r.idx for r in reports), cert.idx]
        indexes += [e.index for e in state.history(conn, number)]
        return ledger.page_bundle(conn, indexes)

    # From the standby when there is one, the primary for a certificate it has not replayed
    # yet. The status the page's script derives is as of the bundle's checkpoint; the status
    # API (/v1/certs/{number}/status) reads the primary for those who must act on the latest.
    try:
        bundle = ledger.read_with_fallback(read)
    except NotFound:
        return SITE.render(request, "unknown.html", {"number": number}, status_code=404)
    base = (ledger.public_url or str(request.base_url)).rstrip("/")
    context = {
        "number": number,
        "bundle": bundle,
        "subject": {"number": number},
        "qr": qr_svg(f"{base}/certs/{number}"),
        "log_key_id": ledger.policy.logs[0].key_id_hex if ledger.policy.logs else "?",
    }
    return SITE.render(request, "certificate.html", context)
