"""Public routes under /v1/certs: a certificate, its status on any date with the receipts it
rests on, search, bulk verification of a CSV, and the bodies' status lists."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from apps.certs import state, views
from apps.certs.pdf import certificate_pdf
from ledger.plugin import (
    SECURITY_HEADERS,
    InvalidRequest,
    JSONAnswer,
    Ledger,
    LedgerDep,
    NotFound,
    PayloadTooLarge,
    certificate_pem,
    is_head,
    problem_responses,
    tr,
)

MAX_CSV_BYTES = 2 * 1024 * 1024  # 10,000 rows of a number and a date fit in a fifth of this
MAX_CSV_ROWS = 20_000
router = APIRouter(tags=["certs"])
Number = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9-]{2,40}$", examples=["PBOC-POS-2019-0001"])]


def _today() -> date:
    return datetime.now(UTC).date()


@router.get("/status-lists/{body}/{purpose}", summary="A body's Bitstring Status List credential",
            responses=problem_responses(NotFound))  # fmt: skip
def get_status_list(
    body: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")],
    purpose: Literal["revocation", "suspension"],
    request: Request,
    ledger: LedgerDep,
) -> JSONAnswer:
    with ledger.read() as conn:
        if not state.certificates_of_body(conn, body):
            raise NotFound(tr("%(body)s has issued no certificate on this ledger.", body=body))
        base = (ledger.public_url or str(request.base_url)).rstrip("/")
        credential = views.status_list_credential(ledger, conn, body, purpose, base)
    return JSONAnswer(credential, headers={**SECURITY_HEADERS, "Cache-Control": "max-age=300"})


@router.get("/search", summary="Certificates by manufacturer, model, product name or type")
def search(q: Annotated[str, Query(min_length=2, max_length=60)], ledger: LedgerDep) -> JSONAnswer:
    # Not on the read threads: a LIKE over every certificate is no quick read.
    today = _today()
    with ledger.read() as conn:
        found = [
            {
                "number": c.number,
                "manufacturer": c.manufacturer,
                "productType": c.product_type,
                "productName": c.product_name,
                "model": c.model,
                "status": views.status_of(conn, c, today).status,
            }
            for c in state.search(conn, q)
        ]
    return JSONAnswer({"certificates": found}, headers=SECURITY_HEADERS)


@router.post(
    "/bulk/verify.csv",
    summary="Bulk check: a CSV of certificate numbers (optional date column) in, a CSV out",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}},
        **problem_responses(InvalidRequest, PayloadTooLarge),
    },
)
async def verify_csv(request: Request, ledger: LedgerDep) -> Response:
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidRequest(tr("The CSV is not UTF-8 text.")) from e
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) > MAX_CSV_ROWS:
        raise InvalidRequest(tr("At most %(n)s rows in one request.", n=MAX_CSV_ROWS))
    answer = await run_in_threadpool(_answer_rows, ledger, rows)
    return Response(answer, media_type="text/csv; charset=utf-8", headers=SECURITY_HEADERS)


def _answer_rows(ledger: Ledger, rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "number", "date", "status", "since", "error"])
    today = _today()
    with ledger.read() as conn:
        for n, row in enumerate(rows, 1):
            cells = [c.strip() for c in row]
            if n == 1 and cells and cells[0].lower() in ("number", "certificate"):
                continue  # a header row
            if not cells or not any(cells):
                continue
            number = cells[0]
            try:
                day = date.fromisoformat(cells[1]) if len(cells) > 1 and cells[1] else today
            except ValueError:
                writer.writerow([n, number, cells[1], "", "", "the date is not YYYY-MM-DD"])
                continue
            cert = state.certificate(conn, number)
            if cert is None:
                writer.writerow([n, number, day.isoformat(), "unknown", "", "no such certificate"])
                continue
            found = views.status_of(conn, cert, day)
            since = "" if found.since is None else found.since.isoformat()
            writer.writerow([n, number, day.isoformat(), found.status, since, ""])
    return out.getvalue()


@router.get(
    "/ca.pem",
    summary="The consortium CA that the bodies' PDF signing certificates chain to",
    response_class=Response,
    responses={200: {"content": {"application/x-pem-file": {}}}},
)
def get_ca(ledger: LedgerDep) -> Response:
    return Response(
        certificate_pem(ledger.timestamp_authority.ca_cert), media_type="application/x-pem-file"
    )


@router.get(
    "/{number}/certificate.pdf",
    summary="The certificate as a PDF signed by its body, with a QR code to its page",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, **problem_responses(NotFound)},
)
async def get_certificate_pdf(number: Number, request: Request, ledger: LedgerDep) -> Response:
    with ledger.read() as conn:
        cert = views.certificate_or_404(conn, number)
    pdf = await certificate_pdf(request, ledger, cert)
    headers = {
        "Content-Disposition": f'inline; filename="{number}.pdf"',
        "Vary": "Accept-Language, Cookie",
        "Cache-Control": "no-store",  # it states the day's status
    }
    return Response(b"" if is_head(request) else pdf, media_type="application/pdf", headers=headers)


@router.get("/{number}", summary="A certificate: credential, status, application, tests, history",
            responses=problem_responses(NotFound))  # fmt: skip
async def get_certificate(number: Number, ledger: LedgerDep) -> JSONAnswer:
    return await ledger.run_read(_certificate, ledger, number)


def _certificate(ledger: Ledger, number: str) -> JSONAnswer:
    with ledger.read() as conn:
        cert = views.certificate_or_404(conn, number)
        body = {
            "credential": views.credential_of(ledger, conn, cert),
            "status": views.status_json(ledger, conn, cert, _today()),
            "current": {"model": cert.model, "version": cert.version},
            "application": views.application_json(conn, cert),
            "history": [
                {"kind": e.kind, "date": e.day.isoformat(), "index": e.index}
                for e in state.history(conn, number)
            ],
        }
    return JSONAnswer(body, headers=SECURITY_HEADERS)


@router.get("/{number}/status", summary="A certificate's status on a date, with its receipts",
            responses=problem_responses(NotFound, InvalidRequest))  # fmt: skip
async def get_status(
    number: Number,
    ledger: LedgerDep,
    at: Annotated[date | None, Query(description="YYYY-MM-DD; default today (UTC)")] = None,
) -> JSONAnswer:
    return await ledger.run_read(_status, ledger, number, at or _today())


def _status(ledger: Ledger, number: str, day: date) -> JSONAnswer:
    with ledger.read() as conn:
        cert = views.certificate_or_404(conn, number)
        body = views.status_json(ledger, conn, cert, day)
    return JSONAnswer(body, headers=SECURITY_HEADERS)
