"""Request and response models: they document the API (OpenAPI) and shape its JSON."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ENVELOPE_EXAMPLE: dict[str, Any] = {
    "v": 1,
    "type": "beef.commission",
    "org": "au-meatworks",
    "key": "c3de4984",
    "nonce": "q1w2e3r4t5y6u7i8o9p0aA",
    "ts": "2026-11-28T08:30:00.000Z",
    "body": {"gtin": "09312345000012", "lot": "L2611", "serial": "0001"},
    "sig": "base64 Ed25519 signature of b'sealchain/tx/v1\\n' + JCS(envelope without sig)",
}
CHECKPOINT_EXAMPLE = (
    "sealchain.demo/log\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "— sealchain.demo/log Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe...\n"
)


class Problem(BaseModel):
    """RFC 9457 problem details; `code` is the stable machine-readable failure."""

    type: str = Field(examples=["https://sealchain.dev/problems/bad-signature"])
    title: str
    status: int
    detail: str = Field(description="a sentence saying what went wrong")
    code: str = Field(examples=["bad-signature"])
    instance: str | None = None
    request_id: str | None = None
    model_config = ConfigDict(extra="allow")


class Envelope(BaseModel):
    """A signed transaction envelope (docs/architecture.md §2), parsed strictly from raw bytes."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [ENVELOPE_EXAMPLE]})
    v: int = Field(1, ge=1, le=1)
    type: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}(\.[a-z][a-z0-9_-]{0,31}){1,3}$")
    org: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    key: str = Field(pattern=r"^[0-9a-f]{8}$", description="key id (hex8) of the signing vkey")
    nonce: str = Field(description="unpadded base64url of 16-64 random bytes")
    ts: str = Field(description="submission time, within +/-300 s of the server clock")
    body: dict[str, Any]
    sig: str = Field(description="standard base64 of the 64-byte Ed25519 signature")


class Receipt(BaseModel):
    """Offline-verifiable proof of inclusion: `sealchain verify` checks it with the policy."""

    entry: dict[str, Any] = Field(description="the signed envelope, exactly as sequenced")
    index: int = Field(ge=0)
    proof: list[str] = Field(description="base64 hashes, leaf's sibling first (RFC 9162)")
    checkpoint: str = Field(
        description="C2SP signed note with cosignatures", examples=[CHECKPOINT_EXAMPLE]
    )


class Queued(BaseModel):
    tx_id: str
    status: str = Field("queued", description="checked (steps 1-8); sequencing follows")
    receipt_url: str


class BatchItem(BaseModel):
    position: int = Field(description="position of the envelope in the request")
    status: int = Field(description="201 committed, 200 already on the ledger, or a 4xx")
    tx_id: str | None = None
    index: int | None = None
    receipt: Receipt | None = None
    problem: Problem | None = None


class BatchResult(BaseModel):
    accepted: int
    rejected: int
    items: list[BatchItem]


class Checkpoint(BaseModel):
    origin: str
    size: int
    root: str = Field(description="base64 Merkle root")
    note: str = Field(description="the signed note (C2SP tlog-checkpoint) with cosignatures")


class InclusionProof(BaseModel):
    index: int
    size: int
    leaf_hash: str
    proof: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    proof: list[str]


class BlockView(BaseModel):
    header: dict[str, Any]
    hash: str = Field(description="hex SHA-256 of b'sealchain/block/v1\\n' + JCS(header)")
    tx_ids: list[str]


class EntryView(BaseModel):
    index: int
    tx_id: str
    org: str
    type: str
    block_height: int
    entry: dict[str, Any]


class EntryPage(BaseModel):
    items: list[EntryView]
    next_after: int | None = Field(description="pass as ?after= for the next page")


class BlockPage(BaseModel):
    items: list[BlockView]
    next_after: int | None


class MemberKeyView(BaseModel):
    key_id: str
    vkey: str
    added_at: int
    revoked_at: int | None


class MemberView(BaseModel):
    org: str
    name: str
    roles: list[str]
    filing: str
    active: bool
    added_at: int
    keys: list[MemberKeyView]


class Health(BaseModel):
    status: str
    size: int
    height: int
    worker: int = Field(description="process id of the worker that answered")
