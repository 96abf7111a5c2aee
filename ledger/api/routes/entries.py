"""Submitting envelopes (one or a batch) and browsing raw entries (members only)."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from ledger.api.deps import ApiState, MemberDep, StateDep, get_state
from ledger.api.direct_route import DirectRoute
from ledger.api.json_answer import JSONAnswer
from ledger.api.models import (
    ENVELOPE_EXAMPLE,
    BatchResult,
    EntryPage,
    EntryView,
    Problem,
    Queued,
    Receipt,
)
from ledger.api.problems import problem_response, problem_responses
from ledger.core.canonical import MAX_DEPTH, TooManyItems, parse_strict, parse_strict_array
from ledger.core.envelope import envelope_from_dict
from ledger.core.receipt import FINAL_HEADER, finality
from ledger.errors import (
    BadSignature,
    DuplicateEntry,
    ForbiddenRole,
    InvalidBody,
    InvalidEnvelope,
    InvalidRequest,
    LedgerError,
    MalformedJSON,
    NotFound,
    PayloadTooLarge,
    Replay,
    RevokedKey,
    StaleTimestamp,
    StateConflict,
    Unauthenticated,
    UnknownKey,
    UnknownOrg,
    UnknownType,
)
from ledger.service.group_commit import Committer
from ledger.service.pipeline import Candidate
from ledger.service.proofs import receipt_for, receipts_for
from ledger.service.sequencer import Accepted, Outcome, Sequencer, parse_each
from ledger.storage.engine import read_transaction
from ledger.storage.repository import Repository, StoredEntry

log = logging.getLogger("sealchain.api")
router = APIRouter(prefix="/v1", tags=["entries"])

MAX_BATCH = 1000
SUBMIT_ERRORS = (
    MalformedJSON,
    PayloadTooLarge,
    InvalidEnvelope,
    UnknownOrg,
    UnknownKey,
    RevokedKey,
    BadSignature,
    StaleTimestamp,
    Replay,
    UnknownType,
    InvalidBody,
    ForbiddenRole,
    StateConflict,
)
ENVELOPE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Envelope"},
                "example": ENVELOPE_EXAMPLE,
            }
        },
    }
}


WAIT_PARAMETER: dict[str, Any] = {
    "name": "wait",
    "in": "query",
    "required": False,
    "description": "wait for the commit and return the receipt",
    "schema": {"type": "boolean", "default": True},
}
BOOLEAN = TypeAdapter(bool)  # pydantic's reading of a boolean, as FastAPI's Query uses


def query_flag(request: Request, name: str, *, default: bool) -> bool:
    """A boolean query parameter (the last one if repeated); InvalidRequest otherwise."""
    if not request.scope.get("query_string"):
        return default  # the common case, without parsing an empty query into a multidict
    values = request.query_params.getlist(name)
    if not values:
        return default
    try:
        return BOOLEAN.validate_python(values[-1])
    except ValidationError as e:
        raise InvalidRequest(
            f"query parameter {name!r} must be true or false, not {values[-1]!r}"
        ) from e


def _committer(state: ApiState) -> Committer:
    # Only a writable node mounts these routes (a witness peer serves reads alone).
    assert state.committer is not None
    return state.committer


def _receipt_json(state: ApiState, tx_id: str) -> dict[str, Any]:
    with read_transaction(state.node.engine) as conn:
        return receipt_for(conn, tx_id, policy=state.node.log_policy).to_json()


def _receipt_headers(state: ApiState, tx_id: str, receipt: dict[str, Any]) -> dict[str, str]:
    """Where the receipt lives, and whether it is final: with witnesses, the checkpoint a
    commit answers with is not cosigned yet; GET Location later for the final one."""
    final = finality(receipt["checkpoint"], state.node.log_policy)
    return {"Location": f"/v1/receipts/{tx_id}", "Sealchain-Tx-Id": tx_id, FINAL_HEADER: final}


async def submit_entry(request: Request) -> Response:
    # The hot path of the service: a DirectRoute, so parameters are read by hand (documented
    # in WAIT_PARAMETER).
    wait = query_flag(request, "wait", default=True)
    state = await get_state(request)
    raw = await request.body()
    sequencer = state.node.sequencer
    assert sequencer is not None
    # Steps (1)-(8) are pure computation once the member cache holds the signer's rows, so the
    # common case runs here on the event loop; anything needing the database goes to a thread.
    parsed = parse_each([raw])
    results = sequencer.precheck_cached(parsed) if wait else None
    if results is None:
        results = await run_in_threadpool(
            partial(sequencer.precheck_parsed, parsed, recognise_first=not wait)
        )
    (checked,) = results
    if isinstance(checked, DuplicateEntry):
        return await _original(request, state, checked)
    if isinstance(checked, LedgerError):
        return problem_response(checked, request)
    tx_id = checked.envelope.tx_id
    if not wait:
        task = asyncio.ensure_future(_committer(state).sequence(checked))
        request.app.state.background.add(task)
        task.add_done_callback(request.app.state.background.discard)
        task.add_done_callback(partial(_log_unsequenced, tx_id))
        queued = Queued(tx_id=tx_id, receipt_url=f"/v1/receipts/{tx_id}")
        return JSONAnswer(queued.model_dump(), status_code=202)
    outcome = await _committer(state).sequence(checked)
    if isinstance(outcome, DuplicateEntry):
        return await _original(request, state, outcome)
    if isinstance(outcome, LedgerError):
        return problem_response(outcome, request)
    if outcome.receipt is not None:
        receipt = outcome.receipt.to_json()
    else:
        receipt = await run_in_threadpool(_receipt_json, state, tx_id)
    return JSONAnswer(receipt, status_code=201, headers=_receipt_headers(state, tx_id, receipt))


router.add_api_route(
    "/entries",
    submit_entry,
    methods=["POST"],
    route_class_override=DirectRoute,
    status_code=201,
    response_model=Receipt,
    summary="Submit one signed envelope",
    description=(
        "Runs validation steps (1)-(10), waits for the group commit and answers 201 with the "
        "receipt once the block is durably committed. `?wait=false` answers 202 after steps "
        "(1)-(8). The same envelope submitted again is answered 200 with its original receipt."
    ),
    openapi_extra={**ENVELOPE_BODY, "parameters": [WAIT_PARAMETER]},
    responses={
        200: {"description": "already on the ledger: the original receipt", "model": Receipt},
        202: {"description": "checked and queued (wait=false)", "model": Queued},
        **problem_responses(*SUBMIT_ERRORS, InvalidRequest),
    },
)


def _log_unsequenced(tx_id: str, task: asyncio.Task[Outcome]) -> None:
    """An entry answered 202 that did not reach the ledger is logged, once, with why: its
    client learns it only from GET /v1/receipts/{tx_id} answering 404."""
    if task.cancelled():
        return
    error = task.exception()
    if error is None:
        outcome = task.result()
        error = outcome if isinstance(outcome, LedgerError) else None
    if error is not None and not isinstance(error, DuplicateEntry):  # that one is on the ledger
        log.error("entry %s, answered 202, was not sequenced: %s", tx_id, error)


async def _original(request: Request, state: ApiState, dup: DuplicateEntry) -> Response:
    tx_id = str(dup.extra["tx_id"])
    try:
        receipt = await run_in_threadpool(_receipt_json, state, tx_id)
    except NotFound:
        return problem_response(dup, request)  # sequenced by another worker a moment ago
    headers = _receipt_headers(state, tx_id, receipt) | {"Sealchain-Duplicate": "true"}
    return JSONAnswer(receipt, status_code=200, headers=headers)


@router.post(
    "/entries/batch",
    response_model=BatchResult,
    summary=f"Submit up to {MAX_BATCH} envelopes",
    description=(
        "Each envelope is checked on its own; the valid ones are committed; the answer has one "
        "item per envelope, in order. `receipts=false` leaves receipts out (faster)."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "maxItems": MAX_BATCH,
                        "items": {"$ref": "#/components/schemas/Envelope"},
                    }
                }
            },
        }
    },
    responses=problem_responses(MalformedJSON, PayloadTooLarge, InvalidRequest),
)
async def submit_batch(
    request: Request,
    state: StateDep,
    receipts: Annotated[bool, Query(description="include a receipt per accepted entry")] = True,
) -> Response:
    body = await request.body()
    sequencer = state.node.sequencer
    assert sequencer is not None
    # Parsing a body near the batch limit takes seconds; in a worker thread it does not stall
    # every other request on this worker's event loop.
    items, checked = await run_in_threadpool(_parse_and_precheck, sequencer, body)
    valid = {i: c for i, c in enumerate(checked) if isinstance(c, Candidate)}
    sequenced = await _committer(state).sequence_all(list(valid.values()), receipt=receipts)
    outcomes: dict[int, Outcome] = {
        i: c for i, c in enumerate(checked) if isinstance(c, LedgerError)
    }
    outcomes.update(zip(valid, sequenced, strict=True))
    result = await run_in_threadpool(_batch_result, state, len(items), outcomes, receipts)
    return JSONAnswer(result)


def _parse_and_precheck(
    sequencer: Sequencer, body: bytes
) -> tuple[list[Any], list[Candidate | LedgerError]]:
    """Step (1) for the batch as a whole, step (2) on each item, then steps (3)-(8) in one
    snapshot. Items are parsed one by one, so an array of millions is refused after 1001."""
    try:
        items = parse_strict_array(
            body, max_items=MAX_BATCH, max_bytes=len(body), max_depth=MAX_DEPTH + 1
        )
    except TooManyItems:
        raise InvalidRequest(
            f"a batch holds 1 to {MAX_BATCH} envelopes; this one has more"
        ) from None
    if not isinstance(items, list):
        raise InvalidRequest("the batch must be a JSON array of envelopes")
    if not items:
        raise InvalidRequest(f"a batch holds 1 to {MAX_BATCH} envelopes, not 0")
    return items, sequencer.precheck_parsed(parse_each(items, envelope_from_dict))


def _batch_result(
    state: ApiState, count: int, outcomes: dict[int, Outcome], with_receipts: bool
) -> dict[str, Any]:
    accepted = {i: o for i, o in outcomes.items() if isinstance(o, Accepted)}
    duplicates = {
        i: str(o.extra["tx_id"]) for i, o in outcomes.items() if isinstance(o, DuplicateEntry)
    }
    receipts: dict[int, dict[str, Any]] = {}
    with read_transaction(state.node.engine) as conn:
        repo = Repository(conn)
        for i, tx_id in duplicates.items():
            stored = repo.entry_by_tx(tx_id)
            if stored is not None:
                accepted_before = Accepted(tx_id, stored.idx, stored.block_height, 0)
                outcomes[i] = accepted_before
        if with_receipts:
            ready = {
                i: o.receipt.to_json()
                for i, o in outcomes.items()
                if isinstance(o, Accepted) and o.receipt is not None
            }
            wanted = {
                i: o.index
                for i, o in outcomes.items()
                if isinstance(o, Accepted) and o.receipt is None
            }
            policy = state.node.log_policy
            built = receipts_for(conn, list(wanted.values()), policy) if wanted else []
            receipts = ready | {i: r.to_json() for i, r in zip(wanted, built, strict=True)}
    # Plain dicts in the shape of BatchResult: building and re-validating 1000 pydantic items
    # cost as much as checking their signatures.
    items: list[dict[str, Any]] = []
    for i in range(count):
        outcome = outcomes[i]
        if isinstance(outcome, Accepted):
            item = {
                "position": i,
                "status": 200 if i in duplicates else 201,
                "tx_id": outcome.tx_id,
                "index": outcome.index,
                "receipt": receipts.get(i),
                "problem": None,
            }
        else:
            problem = Problem(**outcome.problem()).model_dump()
            item = {"position": i, "status": outcome.status, "tx_id": None, "index": None}
            item |= {"receipt": None, "problem": problem}
        items.append(item)
    rejected = count - len(accepted) - len(duplicates)
    return {"accepted": len(accepted), "rejected": rejected, "items": items}


@router.get(
    "/entries",
    response_model=EntryPage,
    summary="Browse raw entries (members only, signed request)",
    responses=problem_responses(Unauthenticated, BadSignature, UnknownOrg, StaleTimestamp),
)
def list_entries(
    state: StateDep,
    _member: MemberDep,
    after: Annotated[int, Query(ge=-1, le=2**53, description="last index seen")] = -1,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    org: Annotated[str | None, Query(max_length=63)] = None,
    type: Annotated[str | None, Query(max_length=130)] = None,
) -> EntryPage:
    with read_transaction(state.node.engine) as conn:
        rows = Repository(conn).list_entries(after, limit, org=org, type_=type)
    items = [_entry_view(r) for r in rows]
    return EntryPage(items=items, next_after=items[-1].index if len(items) == limit else None)


@router.get(
    "/entries/{tx_id:hex64}",
    response_model=EntryView,
    summary="One raw entry (members only, signed request)",
    responses=problem_responses(NotFound, Unauthenticated, BadSignature, UnknownOrg),
)
def get_entry(
    state: StateDep,
    _member: MemberDep,
    tx_id: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256")],
) -> EntryView:
    with read_transaction(state.node.engine) as conn:
        stored = Repository(conn).entry_by_tx(tx_id)
    if stored is None:
        raise NotFound(f"no entry with tx_id {tx_id}")
    return _entry_view(stored)


def _entry_view(stored: StoredEntry) -> EntryView:
    return EntryView(
        index=stored.idx,
        tx_id=stored.tx_id,
        org=stored.org,
        type=stored.type,
        block_height=stored.block_height,
        entry=parse_strict(stored.data),
    )
