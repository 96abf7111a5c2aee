"""The RFC 3161 routes under /v1/evidence: the HTTP timestamping transport, each deposit's
token, and the CA certificate a verifier trusts (docs/timestamping.md).

`POST /v1/evidence/tsa` takes an `application/timestamp-query` and answers an
`application/timestamp-reply`, so `openssl ts -query | curl --data-binary @- | openssl ts
-reply` works. The hash is sequenced first, as an evidence.stamp entry under the platform's
org; the token's genTime is that entry's block time and its serial number the entry's index.
A query the TSA refuses is answered as RFC 3161 asks, with a TimeStampResp saying why
(status rejection), under HTTP 400 (429 when a client is over its rate).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from apps.evidence.numbers import deposit_number
from apps.evidence.pdf import certificate_pdf
from apps.evidence.public_api import DepositNumber, deposit_idx_or_404
from apps.evidence.stamping import SETTINGS, deposit_token, stamp
from ledger.plugin import (
    InvalidRequest,
    LedgerDep,
    MinuteRateLimit,
    NotFound,
    authenticate_member,
    certificate_pem,
    client_source,
    is_head,
    parse_timestamp_query,
    problem_responses,
    timestamp_rejection,
)

QUERY, REPLY = "application/timestamp-query", "application/timestamp-reply"
CLIENTS = MinuteRateLimit(SETTINGS.tsa_per_minute)
SECRET_PURPOSE = "evidence/tsa-clients"  # noqa: S105 - names a derived secret, is not one

router = APIRouter(tags=["evidence"])


def _reply(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=REPLY, headers=headers)


QUERY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {QUERY: {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/tsa",
    summary="RFC 3161 timestamping over HTTP (timestamp-query in, timestamp-reply out)",
    response_class=Response,
    responses={
        200: {"content": {REPLY: {}}, "description": "a TimeStampResp granting the query"},
        400: {"content": {REPLY: {}}, "description": "a TimeStampResp refusing it, saying why"},
        429: {"content": {REPLY: {}}, "description": "refused: over the per-client rate"},
    },
    openapi_extra=QUERY_BODY,
)
async def timestamp(request: Request, ledger: LedgerDep) -> Response:
    if SETTINGS.tsa_members_only:
        await authenticate_member(request)
    address = request.client.host if request.client else "unknown"
    client = client_source(ledger.secret(SECRET_PURPOSE), address)
    if not CLIENTS.allow(client):
        reason = f"over {SETTINGS.tsa_per_minute} timestamps a minute from one client"
        rejection = timestamp_rejection("system_failure", reason)
        return _reply(rejection, 429, {"Retry-After": "60"})
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != QUERY:
        text = f"send the query as {QUERY}, not {content_type or 'no type'}"
        return _reply(timestamp_rejection("bad_data_format", text), 400)
    try:
        query = parse_timestamp_query(await request.body())
    except InvalidRequest as e:
        failure = "bad_alg" if "algorithm" in e.detail else "bad_request"
        if "policy" in e.detail:
            failure = "unaccepted_policy"
        return _reply(timestamp_rejection(failure, e.detail), 400)
    accepted, token = await stamp(ledger, query, client)
    headers = {
        "Sealchain-Deposit": deposit_number(accepted.index),
        "Sealchain-Tx-Id": accepted.tx_id,
        "Location": f"/v1/receipts/{accepted.tx_id}",
    }
    return _reply(token, headers=headers)


@router.get(
    "/deposits/{number}/token.tsr",
    summary="A deposit's RFC 3161 timestamp (TimeStampResp, for openssl ts -verify -in)",
    response_class=Response,
    responses={200: {"content": {REPLY: {}}}, **problem_responses(NotFound)},
)
def get_token(number: DepositNumber, request: Request, ledger: LedgerDep) -> Response:
    idx = deposit_idx_or_404(number)
    with ledger.read() as conn:
        token = deposit_token(ledger, conn, idx)
    disposition = f'attachment; filename="{number}.tsr"'
    body = b"" if is_head(request) else token
    return _reply(body, headers={"Content-Disposition": disposition})


@router.get(
    "/deposits/{number}/certificate.pdf",
    summary="A deposit's evidence certificate as a PDF signed by the platform (PAdES B-T)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, **problem_responses(NotFound)},
)
async def get_certificate_pdf(
    number: DepositNumber, request: Request, ledger: LedgerDep
) -> Response:
    idx = deposit_idx_or_404(number)
    pdf = await certificate_pdf(request, ledger, idx, SETTINGS)
    headers = {
        "Content-Disposition": f'inline; filename="{number}.pdf"',
        "Vary": "Accept-Language, Cookie",
    }
    body = b"" if is_head(request) else pdf
    return Response(body, media_type="application/pdf", headers=headers)


@router.get(
    "/tsa-ca.pem",
    summary="The CA certificate that timestamps and PDF certificates chain to",
    response_class=Response,
    responses={200: {"content": {"application/x-pem-file": {}}}},
)
def get_ca(ledger: LedgerDep) -> Response:
    pem = certificate_pem(ledger.timestamp_authority.ca_cert)
    return Response(pem, media_type="application/x-pem-file")
