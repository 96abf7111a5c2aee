"""Typed dependencies: the running node, what commits its entries, and member authentication."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from ledger.api.batched_worker import BatchedWorker
from ledger.api.metrics import Metrics
from ledger.api.middleware import request_method
from ledger.core.canonical import canonical_bytes
from ledger.core.envelope import Envelope, parse_ts
from ledger.core.keys import Signer, parse_vkey
from ledger.core.policy import LogPolicy
from ledger.core.receipt import Receipt
from ledger.core.request_auth import (
    HEADER_KEY,
    HEADER_ORG,
    HEADER_SIGNATURE,
    HEADER_TIME,
    request_message,
)
from ledger.errors import (
    BadSignature,
    ConfigError,
    LedgerError,
    RevokedKey,
    StaleTimestamp,
    Unauthenticated,
    UnknownKey,
    UnknownOrg,
)
from ledger.service.group_commit import Committer
from ledger.service.node import LedgerNode
from ledger.service.pipeline import utc_now
from ledger.service.sequencer import Accepted, parse_each
from ledger.storage.engine import read_transaction, write_transaction
from ledger.storage.repository import MemberRow, Repository
from ledger.timestamping.pki import DocumentSigner
from ledger.timestamping.rfc3161 import TimeStampAuthority

T = TypeVar("T")


@dataclass
class ApiState:
    node: LedgerNode
    committer: Committer | None  # None on a read-only peer, which has no entries routes
    metrics: Metrics
    _reads: BatchedWorker | None = field(default=None, repr=False)

    def reads(self) -> BatchedWorker:
        """The few threads quick read routes run on (Ledger.run_read), made on first use:
        called on the event loop only, so there is one per app run."""
        if self._reads is None:
            dialect = self.node.read_engine.dialect.name
            self._reads = BatchedWorker.for_reads("ledger-reads", dialect)
        return self._reads

    def close_reads(self) -> None:
        """Run the reads already queued, then end the threads (the app's lifespan, at exit);
        an app started again makes a new worker."""
        worker, self._reads = self._reads, None
        if worker is not None:
            worker.close()


async def get_state(request: Request) -> ApiState:
    # async so FastAPI calls it in the event loop: a plain def would cost a thread hand-off.
    state: ApiState = request.app.state.sealchain
    return state


StateDep = Annotated[ApiState, Depends(get_state)]


@dataclass(frozen=True)
class Ledger:
    """What an app's route may use of the ledger serving it (through `LedgerDep`)."""

    node: LedgerNode
    committer: Committer | None = None  # None outside a running server
    reads: BatchedWorker | None = None  # None outside a running server

    @property
    def policy(self) -> LogPolicy:
        """The trust policy pages are verified with (the home's policy.txt)."""
        return self.node.log_policy

    @property
    def public_url(self) -> str | None:
        """SEALCHAIN_PUBLIC_URL: the base printed on labels and certificates, if set."""
        return self.node.settings.public_url

    def read(self) -> AbstractContextManager[Connection]:
        """A read transaction on the primary: one consistent snapshot of entries and
        projections that holds every committed write. For what is then written or must be
        the latest (a status to act on, a member's own view); public pages that read and may
        answer 404 use read_with_fallback, which a standby can serve."""
        return read_transaction(self.node.engine)

    async def run_read(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the server's read threads (ApiState.reads), for a route that only
        reads and answers within milliseconds: a few threads serve such reads faster than
        the 40 that sync routes share, which take turns on the GIL under load. Work that can
        take long (a PDF, a photo, a big CSV) belongs on those, not here, where it would hold
        up every read queued behind it."""
        if self.reads is None:
            return await run_in_threadpool(fn, *args)
        return await self.reads.run(fn, *args)

    def read_with_fallback(self, fn: Callable[[Connection], T]) -> T:
        """fn(conn) in a read transaction on the hot standby (SEALCHAIN_READ_DATABASE_URL)
        when there is one, and again on the primary if it raises NotFound there (what the
        standby has not replayed yet) or the standby fails; without one, on the primary.

        fn must only read (it may run twice) and raise NotFound for what it does not find;
        the caller maps that to its 404. The snapshot may be a few milliseconds older than
        the primary's: what it shows is signed and consistent, not necessarily the newest."""
        return self.node.read_with_fallback(fn)

    def write_off_ledger(self) -> AbstractContextManager[Connection]:
        """A write transaction for an app's off-ledger tables (App.off_ledger_tables) only:
        what is on the ledger changes only through signed entries."""
        return write_transaction(self.node.engine)

    def page_bundle(self, conn: Connection, indexes: Iterable[int]) -> dict[str, Any]:
        """The proof bundle a page's script verifies (ledger.service.bundles), made from this
        process's snapshot (ledger.service.bundle_cache)."""
        return self.node.bundles.bundle(conn, indexes)

    def members(self, conn: Connection) -> dict[str, MemberRow]:
        """The members by org from this process's snapshot, at most a second old: for the
        names and roles a page shows beside what its bundle proves."""
        return self.node.bundles.members(conn)

    def receipts(self, conn: Connection, indexes: Sequence[int]) -> list[Receipt]:
        """Offline receipts (ledger.core.receipt) for entries `indexes`, in that order, against
        the latest final checkpoint holding them (else the latest) with its cosignatures, from
        this process's snapshot: the checkpoint may be up to a second older than the newest
        final one, as on pages. NotFound if one is beyond the latest."""
        return self.node.bundles.receipts(conn, indexes)

    @property
    def is_log(self) -> bool:
        """Whether this node is the log's (it holds the log key and writes); False on a
        witness peer serving pages from its replica, which keeps no state of its own."""
        return self.node.sequencer is not None

    def secret(self, purpose: str) -> bytes:
        """A per-ledger secret for `purpose` (e.g. keying a hash of client addresses)."""
        return self.node.derived_secret(purpose)

    def member_signer(self, org: str) -> Signer:
        """The signing key of member `org` kept in this node's home, for entries the service
        itself writes on a member's behalf (the evidence TSA records each stamped hash under
        the platform that runs it). ConfigError when this home does not hold that key."""
        return self.node.home.member_signer(org)

    @property
    def timestamp_authority(self) -> TimeStampAuthority:
        """The ledger's RFC 3161 timestamping authority (docs/timestamping.md)."""
        return self.node.timestamp_authority

    def document_signer(self, org: str) -> DocumentSigner:
        """Member `org`'s document-signing key and certificate chain, for signed PDFs."""
        with self.read() as conn:
            member = Repository(conn).member(org)
        if member is None:
            raise ConfigError(f"{org!r} is not a member: it has no document signer")
        return self.node.home.document_signer(org, member.name)

    async def submit(self, envelope: Envelope) -> Accepted:
        """Sequence an envelope signed here through the whole pipeline (steps 1-10) and wait
        for its block to commit. Raises the LedgerError that refused it; an envelope already
        on the ledger answers DuplicateEntry."""
        if self.committer is None or self.node.sequencer is None:
            raise ConfigError("this node does not sequence entries (it is read-only)")
        sequencer = self.node.sequencer
        parsed = parse_each([canonical_bytes(envelope.as_dict())])
        # As POST /v1/entries does: from the member cache on the event loop when it can (a
        # threaded precheck waits while this process commits a block, which would serialise
        # every caller behind the block writer), else in a thread.
        results = sequencer.precheck_cached(parsed)
        if results is None:
            results = await run_in_threadpool(sequencer.precheck_parsed, parsed)
        (checked,) = results
        if isinstance(checked, LedgerError):
            raise checked
        outcome = await self.committer.sequence(checked, receipt=False)
        if isinstance(outcome, LedgerError):
            raise outcome
        return outcome

    @property
    def engine(self) -> Engine:
        return self.node.engine


def ledger_of(app: FastAPI) -> Ledger:
    """The ledger an application serves, for an app's lifespan hooks (routes use LedgerDep)."""
    state: ApiState = app.state.sealchain
    return Ledger(state.node, state.committer)


async def get_ledger(request: Request) -> Ledger:
    state: ApiState = request.app.state.sealchain
    return Ledger(state.node, state.committer, state.reads())


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


async def signed_member(request: Request, state: StateDep) -> MemberRow:
    """Authenticate a member request (ledger.core.request_auth); raises 401/403 problems."""
    headers = request.headers
    org, key_id = headers.get(HEADER_ORG), headers.get(HEADER_KEY)
    time, signature = headers.get(HEADER_TIME), headers.get(HEADER_SIGNATURE)
    if not (org and key_id and time and signature):
        raise Unauthenticated(
            "this route is for members: sign the request with the Sealchain-Org, Sealchain-Key, "
            "Sealchain-Time and Sealchain-Signature headers (docs/api.md)"
        )
    try:
        moment = parse_ts(time)
        sig = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error) as e:
        raise Unauthenticated("Sealchain-Time or Sealchain-Signature is malformed") from e
    skew = timedelta(seconds=state.node.settings.skew_seconds)
    if abs(moment - utc_now()) > skew:
        raise StaleTimestamp(f"Sealchain-Time {time} is outside the accepted window")
    body = await request.body()
    message = request_message(
        request_method(request.scope), request.url.path, request.url.query, body, time, org, key_id
    )

    def lookup() -> tuple[MemberRow | None, str | None, int | None]:
        # On the primary, never a standby: a revocation must stop a key at once, and a
        # member just added must be able to sign in at once, whatever the standby's lag.
        with read_transaction(state.node.engine) as conn:
            repo = Repository(conn)
            member, key = repo.member(org), repo.key(org, key_id)
            return member, key.vkey if key else None, key.revoked_at if key else None

    member, vkey, revoked_at = await run_in_threadpool(lookup)
    if member is None or not member.active:
        raise UnknownOrg(f"org {org!r} is not an active member")
    if vkey is None:
        raise UnknownKey(f"key {key_id} is not a key of org {org!r}")
    if revoked_at is not None:
        raise RevokedKey(f"key {key_id} of {org!r} was revoked at index {revoked_at}")
    if not parse_vkey(vkey).verify(message, sig):
        raise BadSignature("request signature does not verify for this method, path and body")
    return member


MemberDep = Annotated[MemberRow, Depends(signed_member)]


async def authenticate_member(request: Request) -> MemberRow:
    """The signed member a request comes from (as MemberDep), for a route that asks for a
    signature only in some configurations (the evidence TSA, when restricted to members)."""
    return await signed_member(request, await get_state(request))
