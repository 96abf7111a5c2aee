"""Public pages at the site root: check a file against the ledger, and one deposit's
certificate.

Neither page carries a fact from the projection tables. The check page's script hashes the
file in the browser, asks /v1/evidence/verify for the proof bundle of that hash's
registrations, verifies it and shows only the signed deposits whose hash is the file's
(site/static/check.js). The certificate page embeds the bundle of its deposit, and its script
binds the one entry to the deposit number (the number is the log index) before showing
anything (site/static/certificate.js). What the server adds, the cases the deposit was
submitted to, is set apart as its own statement.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from apps.evidence import state
from apps.evidence.numbers import deposit_index
from apps.evidence.site import SITE
from ledger.plugin import LedgerDep, NotFound

pages = APIRouter(tags=["evidence pages"])


@pages.get(
    "/evidence/verify",
    summary="Check a file against the ledger (hashed in the browser)",
    response_class=HTMLResponse,
)
def check_page(request: Request) -> Response:
    return SITE.render(request, "check.html", {"bundle": None, "subject": None})


@pages.get(
    "/evidence/{number}",
    summary="An evidence certificate page, verified in the browser",
    response_class=HTMLResponse,
    responses={404: {"description": "no such deposit", "content": {"text/html": {}}}},
)
def certificate_page(request: Request, ledger: LedgerDep, number: str) -> Response:
    idx = deposit_index(number)
    if idx is None:
        return SITE.render(request, "unknown.html", {"number": number}, status_code=404)
    deposit = idx  # an int from here on, for the closure

    def read(conn: Connection) -> tuple[dict[str, Any], list[state.Case]]:
        found = state.registration(conn, deposit)
        if found is None or found.kind != "deposit":
            raise NotFound("no such deposit")  # on a standby: perhaps not replayed yet
        return ledger.page_bundle(conn, [deposit]), state.cases_with_deposit(conn, deposit)

    # From the standby when there is one, the primary for a deposit it has not replayed yet.
    try:
        bundle, cases = ledger.read_with_fallback(read)
    except NotFound:
        return SITE.render(request, "unknown.html", {"number": number}, status_code=404)
    context = {
        "number": number,
        "bundle": bundle,
        # For programs reading the page; its script takes the number from the reader's address.
        "subject": {"number": number, "index": idx},
        "cases": cases,
        "log_key_id": ledger.policy.logs[0].key_id_hex if ledger.policy.logs else "?",
    }
    return SITE.render(request, "certificate.html", context)
