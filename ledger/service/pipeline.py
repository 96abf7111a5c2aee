"""The validation pipeline (docs/architecture.md §3), steps numbered as there; one test per step.

    (1) size and strict JSON        (6) replay: (org, nonce) and tx_id unused
    (2) envelope schema             (7) type registered and body valid
    (3) org active, key its own,    (8) role allowed
        not revoked                 (9) app state rules
    (4) signature                   (10) sequence
    (5) timestamp window

`Sequencer.precheck_all` runs (1) and (2), then `precheck_parsed` runs (3)-(5), (7) and (8)
against a read snapshot, outside the write lock, so signature checks run in parallel across
workers. `check_in_sequence` runs (6) and (9) and
re-runs the state-dependent (3) and (8) inside the block transaction, at the entry's exact
index, because an earlier entry of the same block may have revoked a key, used a nonce or
changed a role.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection

from ledger.core.envelope import Envelope, parse_ts
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
from ledger.storage.repository import KeyRow, MemberRow, Repository

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


class MemberCache:
    """Member and key rows for prechecks, kept for `ttl` seconds across requests.

    Safe because steps (3) and (8) run again inside the block transaction from the database:
    a revocation made by another worker a moment ago is caught there. Absent rows are never
    cached, so a member added a moment ago is seen at once.
    """

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._rows: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, key: str, load: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._rows.get((kind, key))
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = load()
        if value is not None:
            with self._lock:
                self._rows[(kind, key)] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


class StateView:
    """What steps (3), (6) and (8) read, with the lookups of one batch or block cached.

    `known_tx_ids` and `known_nonces` are loaded in one query each for a whole batch; member
    and key rows are memoised until `forget_members()` (after a governance entry applies).
    `conn` may be a function that opens the connection on first use, so a precheck answered
    from the shared member cache touches no database at all.
    """

    def __init__(
        self,
        conn: Connection | Callable[[], Connection],
        envelopes: Sequence[Envelope] = (),
        *,
        shared: MemberCache | None = None,
    ) -> None:
        self._connect = conn
        self._repo: Repository | None = None
        self.shared = shared
        self.known_tx_ids = (
            self.repo.tx_ids_present(e.tx_id for e in envelopes) if envelopes else set()
        )
        self.known_nonces = (
            self.repo.nonces_present((e.org, e.nonce) for e in envelopes) if envelopes else set()
        )
        self.preloaded = {e.tx_id for e in envelopes}
        self._members: dict[str, MemberRow | None] = {}
        self._keys: dict[tuple[str, str], KeyRow | None] = {}

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            conn = self._connect if isinstance(self._connect, Connection) else self._connect()
            self._repo = Repository(conn)
        return self._repo

    def member(self, org: str) -> MemberRow | None:
        if org not in self._members:
            # The database is reached only on a miss (self.repo may open the connection).
            def load() -> MemberRow | None:
                return self.repo.member(org)

            self._members[org] = self.shared.get("member", org, load) if self.shared else load()
        return self._members[org]

    def key(self, org: str, key_id: str) -> KeyRow | None:
        if (org, key_id) not in self._keys:

            def load() -> KeyRow | None:
                return self.repo.key(org, key_id)

            self._keys[(org, key_id)] = (
                self.shared.get("key", f"{org} {key_id}", load) if self.shared else load()
            )
        return self._keys[(org, key_id)]

    def forget_members(self) -> None:
        self._members.clear()
        self._keys.clear()

    def tx_known(self, envelope: Envelope) -> bool:
        if envelope.tx_id in self.preloaded:
            return envelope.tx_id in self.known_tx_ids
        return self.repo.entry_by_tx(envelope.tx_id) is not None

    def nonce_known(self, envelope: Envelope) -> bool:
        if envelope.tx_id in self.preloaded:
            return (envelope.org, envelope.nonce) in self.known_nonces
        return self.repo.nonce_index(envelope.org, envelope.nonce) is not None


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

    def precheck_parsed(
        self, view: StateView, envelope: Envelope, *, good_with: Verifier | None = None
    ) -> Candidate:
        """Steps (3)-(5), (7) and (8) for an envelope that passed (1) and (2); step (4) is
        skipped when the caller found the signature good with the member's key already
        (`good_with`: ledger.service.signatures).

        Step (6) needs the log as of the entry's own index, so it runs only inside the block
        transaction, for the whole block in one query (`check_in_sequence`); so does the
        recognition of a resubmitted envelope, which is answered with its original receipt.
        """
        member, verifier = self.check_member_key(view, envelope)  # (3)
        if good_with != verifier:  # same name, key and type: the same key
            envelope.verify_signature(verifier)  # (4)
        self.check_timestamp(envelope)  # (5)
        record_type, body = self.registry.parse_body(envelope)  # (7)
        self.check_role(member, record_type)  # (8)
        return Candidate(envelope, record_type, body)

    def check_in_sequence(
        self,
        conn: Connection,
        view: StateView,
        candidate: Candidate,
        entry: SequencedEntry,
        block: BlockContext,
    ) -> None:
        """Steps (3), (6), (8) again and (9), at the entry's index inside the block transaction."""
        if view.tx_known(candidate.envelope):  # a resubmission, whatever changed since
            raise DuplicateEntry(
                f"entry {candidate.envelope.tx_id} is already sequenced",
                tx_id=candidate.envelope.tx_id,
            )
        member, _ = self.check_member_key(view, candidate.envelope)  # (3)
        self.check_replay(view, candidate.envelope, block)  # (6)
        self.check_role(member, candidate.record_type)  # (8)
        projection = self.registry.projection_for(candidate.record_type.name)
        if projection is not None:
            projection.check(conn, entry)  # (9)

    # --- the steps -----------------------------------------------------------------------------

    def check_member_key(self, view: StateView, envelope: Envelope) -> tuple[MemberRow, Verifier]:
        """(3) The org is an active member and the key is its own and not revoked."""
        member = view.member(envelope.org)
        if member is None or not member.active:
            state = "inactive" if member else "not a member"
            raise UnknownOrg(f"org {envelope.org!r} is {state} of this ledger", org=envelope.org)
        key = view.key(envelope.org, envelope.key)
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
    def check_replay(view: StateView, envelope: Envelope, block: BlockContext) -> None:
        """(6) The tx_id is new and the org has not used this nonce before."""
        if envelope.tx_id in block.tx_ids or view.tx_known(envelope):
            raise DuplicateEntry(
                f"entry {envelope.tx_id} is already sequenced", tx_id=envelope.tx_id
            )
        key = (envelope.org, envelope.nonce)
        if key in block.nonces or view.nonce_known(envelope):
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
