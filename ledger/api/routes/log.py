"""The public log: receipts by tx_id, checkpoints, inclusion and consistency proofs; raw blocks
for members.

Proofs and blocks are read from the hot standby when one is configured, and from the primary
when the standby has not replayed what is asked for yet (a size or height beyond its own): a
client holding a newer checkpoint than the standby's never gets a false 404. Checkpoints are
always the primary's."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import Connection

from ledger.api.deps import ApiState, MemberDep, StateDep
from ledger.api.models import (
    BlockPage,
    BlockView,
    Checkpoint,
    ConsistencyProof,
    InclusionProof,
    Receipt,
)
from ledger.api.problems import problem_responses
from ledger.core import merkle
from ledger.core.note import parse_checkpoint, parse_note
from ledger.core.receipt import FINAL_HEADER, finality
from ledger.errors import BadSignature, NotFound, Unauthenticated, UnknownOrg
from ledger.service import proofs
from ledger.storage.engine import read_transaction
from ledger.storage.repository import Repository, StoredEntry

router = APIRouter(prefix="/v1", tags=["log"])
TLOG_PROOF = "text/x.tlog-proof"
NOTE_TEXT = "text/plain; charset=utf-8"
TxId = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 tx_id")]


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in items]


def _wants(request: Request, media: str) -> bool:
    return media in request.headers.get("accept", "")


@router.get(
    "/receipts/{tx_id:hex64}",
    response_model=Receipt,
    summary="Receipt for an entry (anyone who knows its tx_id)",
    description=(
        "Against the latest checkpoint the trust policy's quorum of witnesses cosigned, or "
        "while none holds the entry yet, the latest checkpoint: the `Sealchain-Final` header "
        "says `true` or `false`; ask again for the final one. `?size=` for another checkpoint. "
        f"`Accept: {TLOG_PROOF}` answers the C2SP tlog-proof@v1 text form."
    ),
    responses={
        200: {"content": {TLOG_PROOF: {"schema": {"type": "string"}}}},
        **problem_responses(NotFound),
    },
)
async def get_receipt(
    request: Request,
    state: StateDep,
    tx_id: TxId,
    size: Annotated[int | None, Query(ge=1, le=2**53)] = None,
) -> Response:
    return await state.reads().run(_receipt, request, state, tx_id, size)


def _receipt(request: Request, state: ApiState, tx_id: str, size: int | None) -> Response:
    policy = state.node.log_policy
    # From a standby when there is one; an entry it has not replayed yet is the primary's.
    receipt = state.node.read_with_fallback(
        lambda conn: proofs.receipt_for(conn, tx_id, size=size, policy=policy)
    )
    headers = {FINAL_HEADER: finality(receipt.checkpoint, policy)}
    if _wants(request, TLOG_PROOF):
        return PlainTextResponse(receipt.to_tlog_proof(), media_type=TLOG_PROOF, headers=headers)
    return Response(
        Receipt(**receipt.to_json()).model_dump_json(),
        media_type="application/json",
        headers=headers,
    )


@router.get(
    "/checkpoint",
    response_model=Checkpoint,
    summary="The latest (or ?size=) signed checkpoint with cosignatures",
    description="`Accept: text/plain` answers the C2SP signed note itself.",
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **problem_responses(NotFound),
    },
)
async def get_checkpoint(
    request: Request,
    state: StateDep,
    size: Annotated[int | None, Query(ge=1, le=2**53)] = None,
) -> Response:
    return await state.reads().run(_checkpoint, request, state, size)


def _checkpoint(request: Request, state: ApiState, size: int | None) -> Response:
    # From the primary, as /checkpoint (routes/tiles.py): the latest must never go back to a
    # smaller tree between two requests, and the cosignatures that make one final arrive
    # there first. One row: cheap to serve from the primary.
    with read_transaction(state.node.engine) as conn:
        _, note_text = proofs.checkpoint_with_cosignatures(conn, size)
    if _wants(request, "text/plain"):
        return PlainTextResponse(note_text, media_type=NOTE_TEXT)
    checkpoint = parse_checkpoint(parse_note(note_text).text)
    body = Checkpoint(
        origin=checkpoint.origin,
        size=checkpoint.size,
        root=base64.b64encode(checkpoint.root).decode(),
        note=note_text,
    )
    return Response(body.model_dump_json(), media_type="application/json")


@router.get(
    "/proofs/inclusion",
    response_model=InclusionProof,
    summary="Inclusion proof for entry `index` in the tree of `size`",
    responses=problem_responses(NotFound),
)
async def inclusion(
    state: StateDep,
    index: Annotated[int, Query(ge=0, le=2**53)],
    size: Annotated[int, Query(ge=1, le=2**53)],
) -> InclusionProof:
    return await state.reads().run(_inclusion, state, index, size)


def _inclusion(state: ApiState, index: int, size: int) -> InclusionProof:
    def read(conn: Connection) -> tuple[StoredEntry, list[bytes]]:
        stored = Repository(conn).entry_by_index(index)
        if stored is None:
            raise NotFound(f"no entry {index}")
        return stored, proofs.inclusion_proof(conn, stored.idx, size)

    stored, path = state.node.read_with_fallback(read)
    return InclusionProof(
        index=stored.idx,
        size=size,
        leaf_hash=base64.b64encode(merkle.leaf_hash(stored.data)).decode(),
        proof=_b64(path),
    )


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyProof,
    summary="Consistency proof from tree size `first` to `second`",
    responses=problem_responses(NotFound),
)
async def consistency(
    state: StateDep,
    first: Annotated[int, Query(ge=0, le=2**53)],
    second: Annotated[int, Query(ge=0, le=2**53)],
) -> ConsistencyProof:
    path = await state.reads().run(
        state.node.read_with_fallback,
        lambda conn: proofs.consistency_proof(conn, first, second),
    )
    return ConsistencyProof(first=first, second=second, proof=_b64(path))


def _block_view(repo: Repository, height: int) -> BlockView:
    header = repo.block(height)
    if header is None:
        raise NotFound(f"no block {height}")
    return BlockView(
        header=header.to_json(), hash=header.hash_hex(), tx_ids=repo.tx_ids_in_block(height)
    )


@router.get(
    "/blocks/{height:int}",
    response_model=BlockView,
    summary="One block header and its entries' tx_ids (members only, signed request)",
    responses=problem_responses(NotFound, Unauthenticated, BadSignature, UnknownOrg),
)
def get_block(
    state: StateDep, _member: MemberDep, height: Annotated[int, Path(ge=0, le=2**53)]
) -> BlockView:
    return state.node.read_with_fallback(lambda conn: _block_view(Repository(conn), height))


@router.get(
    "/blocks",
    response_model=BlockPage,
    summary="Browse blocks (members only, signed request)",
    responses=problem_responses(Unauthenticated, BadSignature, UnknownOrg),
)
def list_blocks(
    state: StateDep,
    _member: MemberDep,
    after: Annotated[int, Query(ge=-1, le=2**53)] = -1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> BlockPage:
    def read(conn: Connection) -> list[BlockView]:
        repo = Repository(conn)
        return [_block_view(repo, h.height) for h in repo.list_blocks(after, limit)]

    # A standby that lags shows fewer blocks after `after` (the next page has them), never
    # other ones: blocks, like tiles, do not change once written.
    items = state.node.read_with_fallback(read)
    next_after = items[-1].header["height"] if len(items) == limit else None
    return BlockPage(items=items, next_after=next_after)
