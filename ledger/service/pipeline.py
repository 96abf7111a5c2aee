"""The validation pipeline (DESIGN 5), steps numbered as there; one test per step.

    (1) size and strict JSON        (6) replay: (org, nonce) and tx_id unused
    (2) envelope schema             (7) type registered and body valid
    (3) org active, key its own,    (8) role allowed
        not revoked                 (9) app state rules
    (4) signature                   (10) sequence
    (5) timestamp window

`precheck` runs (1)-(8) against a read snapshot, outside the write lock, so signature checks run
in parallel across workers. `check_in_sequence` re-runs the state-dependent steps (3), (6), (8)
and runs (9) inside the block transaction, at the entry's exact index, because an earlier entry
of the same block may have revoked a key, used a nonce or changed a role.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from pydantic import BaseModel
from sqlalchemy import Connection

from ledger.core.envelope import Envelope, parse_envelope, parse_ts
from ledger.core.keys import Verifier, parse_vkey
from ledger.errors import (
    BadSignature,
    DuplicateEntry,
    ForbiddenRole,
    Replay,
    RevokedKey,
    StaleTimestamp,
    StateConflict,
    UnknownKey,
    UnknownOrg,
)
from ledger.service.app import RecordType, Registry, SequencedEntry
from ledger.service.membership import GenesisBody
from ledger.storage.repository import MemberRow, Repository

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Candidate:
    """An envelope that passed (1)-(8) and waits for its place in a block."""

    envelope: Envelope
    record_type: RecordType
    body: BaseModel


@dataclass
class BlockContext:
    """What earlier entries of the block being built have used (for step 6 within a block)."""

    nonces: set[tuple[str, str]] = field(default_factory=set)
    tx_ids: set[str] = field(default_factory=set)


@lru_cache(maxsize=4096)
def _verifier(vkey: str) -> Verifier:
    return parse_vkey(vkey)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Validator:
    def __init__(self, registry: Registry, *, skew_seconds: int = 300, clock: Clock = utc_now):
        self.registry = registry
        self.skew = timedelta(seconds=skew_seconds)
        self.clock = clock

    def precheck(self, conn: Connection, raw: bytes) -> Candidate:
        """Steps (1)-(8) against the current state; raises the InputError of the first failure."""
        envelope = parse_envelope(raw)  # (1) size and strict JSON, (2) envelope schema
        repo = Repository(conn)
        # An envelope already sequenced is recognised by its tx_id before anything else, so a
        # resubmission gets the original receipt even if its key was revoked since.
        if repo.entry_by_tx(envelope.tx_id) is not None:
            raise DuplicateEntry(
                f"entry {envelope.tx_id} is already sequenced", tx_id=envelope.tx_id
            )
        member, verifier = self.check_member_key(repo, envelope)  # (3)
        envelope.verify_signature(verifier)  # (4)
        self.check_timestamp(envelope)  # (5)
        self.check_replay(repo, envelope, BlockContext())  # (6)
        record_type, body = self.registry.parse_body(envelope)  # (7)
        self.check_role(member, record_type)  # (8)
        return Candidate(envelope, record_type, body)

    def check_in_sequence(
        self, conn: Connection, candidate: Candidate, entry: SequencedEntry, block: BlockContext
    ) -> None:
        """Steps (3), (6), (8) again and (9), at the entry's index inside the block transaction."""
        repo = Repository(conn)
        member, _ = self.check_member_key(repo, candidate.envelope)  # (3)
        self.check_replay(repo, candidate.envelope, block)  # (6)
        self.check_role(member, candidate.record_type)  # (8)
        for projection in self.registry.projections():  # (9)
            projection.check(conn, entry)

    # --- the steps -----------------------------------------------------------------------------

    def check_member_key(self, repo: Repository, envelope: Envelope) -> tuple[MemberRow, Verifier]:
        """(3) The org is an active member and the key is its own and not revoked."""
        member = repo.member(envelope.org)
        if member is None or not member.active:
            state = "inactive" if member else "not a member"
            raise UnknownOrg(f"org {envelope.org!r} is {state} of this ledger", org=envelope.org)
        key = repo.key(envelope.org, envelope.key)
        if key is None:
            raise UnknownKey(f"key {envelope.key} is not a key of org {envelope.org!r}")
        if key.revoked_at is not None:
            raise RevokedKey(
                f"key {envelope.key} of {envelope.org!r} was revoked at index {key.revoked_at}",
                revoked_at=key.revoked_at,
            )
        return member, _verifier(key.vkey)

    def check_timestamp(self, envelope: Envelope) -> None:
        """(5) Submission time within +/- skew of the server clock."""
        now = self.clock()
        ts = parse_ts(envelope.ts)
        if abs(ts - now) > self.skew:
            raise StaleTimestamp(
                f"ts {envelope.ts} is more than {int(self.skew.total_seconds())} s from the "
                f"server time {now.isoformat(timespec='seconds')}"
            )

    @staticmethod
    def check_replay(repo: Repository, envelope: Envelope, block: BlockContext) -> None:
        """(6) The tx_id is new and the org has not used this nonce before."""
        if envelope.tx_id in block.tx_ids or repo.entry_by_tx(envelope.tx_id) is not None:
            raise DuplicateEntry(
                f"entry {envelope.tx_id} is already sequenced", tx_id=envelope.tx_id
            )
        key = (envelope.org, envelope.nonce)
        if key in block.nonces or repo.nonce_index(*key) is not None:
            raise Replay(f"org {envelope.org!r} already used nonce {envelope.nonce}")

    def check_role(self, member: MemberRow, record_type: RecordType) -> None:
        """(8) The org holds one of the roles allowed to write this type."""
        if not self.registry.write_policy.permits(record_type.name, member.roles):
            wanted = ", ".join(sorted(record_type.roles)) or "no role (not writable)"
            raise ForbiddenRole(
                f"org {member.org!r} may not write {record_type.name}: it needs {wanted}"
            )


def check_genesis(envelope: Envelope, registry: Registry) -> Candidate:
    """The genesis entry is checked against the configuration it carries (no state exists yet)."""
    if envelope.type != "ledger.genesis":
        raise StateConflict("the first entry of a ledger must be ledger.genesis")
    record_type, body = registry.parse_body(envelope)
    assert isinstance(body, GenesisBody)
    if envelope.org not in body.admins:
        raise StateConflict(f"genesis must be signed by an admin org, not {envelope.org!r}")
    spec = next((m for m in body.members if m.org == envelope.org), None)
    verifiers = [_verifier(v) for v in spec.vkeys] if spec else []
    signer = next((v for v in verifiers if v.key_id_hex == envelope.key), None)
    if signer is None:
        raise BadSignature(f"genesis key {envelope.key} is not a key of {envelope.org!r}")
    envelope.verify_signature(signer)
    return Candidate(envelope, record_type, body)
