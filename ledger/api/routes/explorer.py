"""The explorer's public listing: block headers newest first, each with its signed checkpoint,
the cosignatures stored for it (named by the trust policy) and whether they make it final.

Headers only: which entries a block holds stays members-only (GET /v1/blocks, DESIGN 8). Read
from the primary, as checkpoints are (routes/log.py): the cosignatures that make a checkpoint
final arrive there first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ledger.api.deps import StateDep
from ledger.api.problems import problem_responses
from ledger.errors import InvalidRequest
from ledger.service import explorer
from ledger.storage.engine import read_transaction

router = APIRouter(prefix="/v1/explorer", tags=["explorer"])


class ExplorerCosignature(BaseModel):
    witness: str | None = Field(
        description="the trust policy's name for the witness key; null for a key it lacks"
    )
    key_name: str = Field(description="the key name on the cosignature line")
    key_id: str = Field(description="hex key id on the line")
    time: int | None = Field(description="when the witness cosigned, Unix seconds (its clock)")
    verified: bool = Field(
        description="a policy witness's key, whose signature on this checkpoint verifies"
    )
    line: str = Field(description="the C2SP tlog-cosignature/v1 line")


class ExplorerCheckpoint(BaseModel):
    size: int
    note: str = Field(description="the signed note (C2SP tlog-checkpoint) with cosignatures")
    cosigners: list[str] = Field(description="policy names of the witnesses that verify")
    final: bool = Field(description="the cosigners meet the trust policy's quorum")
    cosignatures: list[ExplorerCosignature]


class ExplorerBlock(BaseModel):
    header: dict[str, Any] = Field(
        description="height, prev, time, first, count, size, root (DESIGN 3.5)"
    )
    hash: str = Field(description="hex SHA-256 of b'sealchain/block/v1\\n' + JCS(header)")
    checkpoint: ExplorerCheckpoint | None


class ExplorerPage(BaseModel):
    items: list[ExplorerBlock] = Field(description="newest first")
    next_before: int | None = Field(description="pass as ?before= for older blocks")
    head: int | None = Field(description="height of the latest block")
    quorum: str = Field(description="the trust policy's quorum (a witness, a group, or none)")


def page_of(listing: explorer.Listing, quorum: str) -> ExplorerPage:
    return ExplorerPage(
        items=[
            ExplorerBlock(
                header=row.header.to_json(),
                hash=row.hash,
                checkpoint=None
                if row.checkpoint is None
                else ExplorerCheckpoint(
                    size=row.checkpoint.size,
                    note=row.checkpoint.note,
                    cosigners=row.checkpoint.cosigners,
                    final=row.checkpoint.final,
                    cosignatures=[
                        ExplorerCosignature(
                            witness=c.witness,
                            key_name=c.key_name,
                            key_id=c.key_id,
                            time=c.time,
                            verified=c.verified,
                            line=c.line.rstrip("\n"),
                        )
                        for c in row.checkpoint.cosignatures
                    ],
                ),
            )
            for row in listing.rows
        ],
        next_before=listing.next_before,
        head=listing.head,
        quorum=quorum,
    )


@router.get(
    "/blocks",
    response_model=ExplorerPage,
    summary="Latest block headers with their checkpoints and cosignatures (public)",
    description=(
        "Newest first, `limit` (1-100) at a time; `?before=H` lists the blocks below height H "
        "(each page's `next_before`). Each checkpoint carries its stored cosignatures, named "
        "by the trust policy, and whether they meet its quorum. No entries or tx_ids."
    ),
    responses=problem_responses(InvalidRequest),
)
def list_blocks(
    state: StateDep,
    before: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    limit: Annotated[int, Query(ge=1, le=explorer.MAX_LIMIT)] = 20,
) -> ExplorerPage:
    policy = state.node.log_policy
    with read_transaction(state.node.engine) as conn:
        listing = explorer.latest_blocks(conn, policy, before=before, limit=limit)
    return page_of(listing, policy.quorum)
