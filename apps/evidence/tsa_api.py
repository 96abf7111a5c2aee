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

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection

from apps.evidence import state
from apps.evidence.numbers import deposit_number
from apps.evidence.public_api import SETTINGS, DepositNumber, deposit_idx_or_404
from ledger.core.envelope import parse_ts, sign_envelope
from ledger.core.keys import Signer
from ledger.plugin import (
    InvalidRequest,
    Ledger,
    LedgerDep,
    MinuteRateLimit,
    NotFound,
    authenticate_member,
    certificate_pem,
    client_source,
    is_head,
    parse_timestamp_query,
    timestamp_granted,
    timestamp_rejection,
    tr,
)

QUERY, REPLY = "application/timestamp-query", "application/timestamp-reply"
CLIENTS = MinuteRateLimit(SETTINGS.tsa_per_minute)
SECRET_PURPOSE = "evidence/tsa-clients"  # noqa: S105 - names a derived secret, is not one

router = APIRouter(tags=["evidence"])


def _reply(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=REPLY, headers=headers)


_SIGNERS: dict[tuple[int, str], Signer] = {}


def _platform_signer(ledger: Ledger, org: str) -> Signer:
    """The platform's key, read from the home once per process (and per ledger served)."""
    key = (id(ledger.node), org)
    if key not in _SIGNERS:
        _SIGNERS[key] = ledger.member_signer(org)
    return _SIGNERS[key]


def block_time(text: str) -> dt.datetime:
    return parse_ts(text)


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
    responses={200: {"content": {REPLY: {}}, "description": "a TimeStampResp"}},
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
    org = SETTINGS.platform
    envelope = sign_envelope(
        _platform_signer(ledger, org),
        type="evidence.stamp",
        org=org,
        body={"algorithm": query.hash_algorithm, "digest": query.digest.hex(), "client": client},
    )
    accepted = await ledger.submit(envelope)
    with ledger.read() as conn:
        stamped = state.registration(conn, accepted.index)
    assert stamped is not None  # the projection row is written with the entry
    token = ledger.timestamp_authority.reply(query, block_time(stamped.block_time), accepted.index)
    headers = {
        "Sealchain-Deposit": deposit_number(accepted.index),
        "Sealchain-Tx-Id": accepted.tx_id,
        "Location": f"/v1/receipts/{accepted.tx_id}",
    }
    return _reply(token, headers=headers)


def deposit_token(ledger: Ledger, conn: Connection, idx: int) -> bytes:
    """The TimeStampResp of registration `idx` (a deposit's SHA-256, or a stamp's digest):
    rebuilt from the ledger on each call, the same bytes every time (deterministic ECDSA)."""
    found = state.registration(conn, idx)
    if found is None:
        raise NotFound(tr("%(number)s is not on this ledger.", number=deposit_number(idx)))
    digest = found.digest if found.kind == "stamp" else found.sha256
    assert digest is not None
    token = ledger.timestamp_authority.token(
        bytes.fromhex(digest), found.algorithm, block_time(found.block_time), idx
    )
    return timestamp_granted(token)


@router.get(
    "/deposits/{number}/token.tsr",
    summary="A deposit's RFC 3161 timestamp (TimeStampResp, for openssl ts -verify -in)",
    response_class=Response,
    responses={200: {"content": {REPLY: {}}}},
)
def get_token(number: DepositNumber, request: Request, ledger: LedgerDep) -> Response:
    idx = deposit_idx_or_404(number)
    with ledger.read() as conn:
        token = deposit_token(ledger, conn, idx)
    disposition = f'attachment; filename="{number}.tsr"'
    body = b"" if is_head(request) else token
    return _reply(body, headers={"Content-Disposition": disposition})


@router.get(
    "/tsa-ca.pem",
    summary="The CA certificate that timestamps and PDF certificates chain to",
    response_class=Response,
    responses={200: {"content": {"application/x-pem-file": {}}}},
)
def get_ca(ledger: LedgerDep) -> Response:
    pem = certificate_pem(ledger.timestamp_authority.ca_cert)
    return Response(pem, media_type="application/x-pem-file")
