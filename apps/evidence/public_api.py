"""Public routes under /v1/evidence: check a file or hash against the ledger, and read a
deposit's certificate (JSON; the PDF and the RFC 3161 token are in documents_api)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from apps.evidence import state
from apps.evidence.certificate import certificate
from apps.evidence.models import IsccText
from apps.evidence.numbers import PATTERN as DEPOSIT_NUMBER
from apps.evidence.numbers import deposit_index
from apps.evidence.similarity import NotAText, TextIndex, code_bits, text_code
from apps.evidence.stamping import SETTINGS
from apps.evidence.views import registration_json
from ledger.plugin import (
    SECURITY_HEADERS,
    InvalidRequest,
    JSONAnswer,
    Ledger,
    LedgerDep,
    NotFound,
    PayloadTooLarge,
    problem_responses,
    tr,
)

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
MAX_TEXT_BYTES = 4 * 1024 * 1024  # larger uploads are hashed, not read as text works
MAX_QUERY_BYTES = 4 * 1024
TEXTS = TextIndex()

router = APIRouter(tags=["evidence"])


class HashQuery(BaseModel):
    """What to look for: a file's hashes (computed where the file is) and, for a text, its
    ISCC Text-Code (computed there too: the text need not travel)."""

    model_config = ConfigDict(extra="forbid")
    sha256: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None
    sha3_256: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None
    iscc: IsccText | None = None


def _lookup(
    ledger: Ledger, sha256: str | None, sha3_256: str | None, iscc: str | None
) -> dict[str, Any]:
    with ledger.read() as conn:
        found: dict[int, state.Registration] = {}
        for algorithm, digest in (("sha256", sha256), ("sha3-256", sha3_256)):
            if digest is not None:
                found.update(
                    (r.idx, r) for r in state.registrations_of_hash(conn, algorithm, digest)
                )
        exact = [found[i] for i in sorted(found)]
        matches = [] if iscc is None else TEXTS.search(conn, code_bits(iscc))
        similar_regs = state.registrations(conn, [m.idx for m in matches if m.idx not in found])
        similar = registration_json(ledger, conn, [similar_regs[i] for i in sorted(similar_regs)])
        share = {m.idx: m.similarity for m in matches}
        for item in similar:
            item["similarity"] = round(share[item["index"]], 4)
        indexes = [r.idx for r in exact] + [s["index"] for s in similar]
        return {
            "sha256": sha256,
            "sha3_256": sha3_256,
            "iscc": iscc,
            "registrations": registration_json(ledger, conn, exact),
            "similar": similar,
            "verification": ledger.page_bundle(conn, indexes),
        }


async def _hash_upload(request: Request) -> tuple[str, str, str | None]:
    """SHA-256, SHA3-256 and (for UTF-8 text) the ISCC Text-Code of the body, streamed: the
    upload is never written anywhere, and held in memory only up to MAX_TEXT_BYTES."""
    sha256, sha3 = hashlib.sha256(), hashlib.sha3_256()
    head = bytearray()
    async for chunk in request.stream():
        sha256.update(chunk)
        sha3.update(chunk)
        if len(head) <= MAX_TEXT_BYTES:
            head += chunk
    code = None
    if len(head) <= MAX_TEXT_BYTES:
        try:
            code = await run_in_threadpool(text_code, bytes(head).decode("utf-8"))
        except (UnicodeDecodeError, NotAText):
            code = None  # not a text work: it is looked up by its hashes alone
    return sha256.hexdigest(), sha3.hexdigest(), code


@router.post(
    "/verify",
    summary="Every registration of a file or hash, earliest first, each with its receipt",
    description=(
        "Send the file itself as `application/octet-stream` (up to 64 MiB; hashed as it "
        "streams, never stored; a UTF-8 text of 200 characters or more is also compared with "
        'registered text works), or its hashes as JSON `{"sha256", "sha3_256", "iscc"}` '
        "so that the file never leaves your machine. The answer lists the registrations "
        "(earliest first), similar text works with their similarity, and the proof bundle a "
        "page verifies them with."
    ),
    responses=problem_responses(InvalidRequest, PayloadTooLarge),
)
async def verify(request: Request, ledger: LedgerDep) -> JSONAnswer:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        raw = await request.body()
        if len(raw) > MAX_QUERY_BYTES:
            raise InvalidRequest(tr("A hash query is at most 4 KiB; send a file as a stream."))
        try:
            query = HashQuery.model_validate_json(raw)
        except ValidationError as e:
            first = e.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise InvalidRequest(
                tr("The query is invalid at %(where)s: %(why)s", where=where, why=first["msg"])
            ) from None
        if query.sha256 is None and query.sha3_256 is None:
            raise InvalidRequest(tr("Send at least one hash: sha256 or sha3_256."))
        sha256, sha3, code = query.sha256, query.sha3_256, query.iscc
    else:
        sha256, sha3, code = await _hash_upload(request)
    answer = await run_in_threadpool(_lookup, ledger, sha256, sha3, code)
    return JSONAnswer(answer, headers=SECURITY_HEADERS)


DepositNumber = Annotated[str, Path(pattern=DEPOSIT_NUMBER, examples=["EV-00000042"])]


def deposit_idx_or_404(number: str) -> int:
    idx = deposit_index(number)
    if idx is None:
        raise NotFound(tr("%(number)s is not a deposit number.", number=number))
    return idx


@router.get(
    "/deposits/{number}",
    summary="A deposit's evidence certificate as JSON, with its receipt",
    responses=problem_responses(NotFound),
)
async def get_certificate(number: DepositNumber, ledger: LedgerDep) -> JSONAnswer:
    return await ledger.run_read(_certificate, ledger, deposit_idx_or_404(number))


def _certificate(ledger: Ledger, idx: int) -> JSONAnswer:
    with ledger.read() as conn:
        cert = certificate(ledger, conn, idx, SETTINGS)
    return JSONAnswer(cert, headers=SECURITY_HEADERS)
