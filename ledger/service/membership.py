"""Genesis, membership and keys: the ledger's own governance record types and their projection.

    ledger.genesis        block 0: the consortium configuration, signed by an admin org
    ledger.member.add     {"org", "name", "roles", "vkeys", "filing"}
    ledger.member.update  {"org", "name"?, "roles"?, "filing"?, "active"?}
    ledger.key.add        {"org", "vkey"}
    ledger.key.revoke     {"org", "key", "reason"?}

All but genesis need the `ledger.admin` role. A key added at index a signs entries a..r-1, where
r is the index of its revocation; entries sequenced before the revocation stay valid.

The state rules (`check_governance`) and transitions (`apply_governance`) are written once, over
a `GovernanceStore`: the Repository for the live projection, memory for `GovernanceState`, which
the audit and proof-bundle verifiers replay signed governance entries with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection

from ledger.core.envelope import ORG_RE
from ledger.core.keys import SIG_COSIGNATURE_V1, SIG_ED25519, Verifier, parse_vkey
from ledger.core.policy import MemberDirectory, MemberKey
from ledger.errors import NoteError, StateConflict
from ledger.service.app import App, RecordType, SequencedEntry
from ledger.storage.repository import KeyRow, MemberRow, Repository

ADMIN_ROLE = "ledger.admin"
ROLE_PATTERN = r"^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_.-]*$"

Org = Annotated[str, Field(pattern=ORG_RE.pattern)]
Role = Annotated[str, Field(pattern=ROLE_PATTERN, max_length=64)]


def _check_vkey(value: str, sig_type: int = SIG_ED25519) -> str:
    try:
        verifier = parse_vkey(value)
    except NoteError as e:
        raise ValueError(e.detail) from None
    if verifier.sig_type != sig_type:
        raise ValueError(f"vkey must have signature type 0x{sig_type:02x}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemberSpec(_Strict):
    org: Org
    name: Annotated[str, Field(min_length=1, max_length=200)]
    roles: Annotated[list[Role], Field(max_length=32)]
    vkeys: Annotated[list[str], Field(min_length=1, max_length=16)]
    filing: Annotated[str, Field(max_length=100)] = ""

    @field_validator("vkeys")
    @classmethod
    def _vkeys(cls, values: list[str]) -> list[str]:
        ids = [_check_vkey(v) and parse_vkey(v).key_id for v in values]
        if len(set(ids)) != len(ids):
            raise ValueError("vkeys must have distinct key ids")
        return values


class WitnessSpec(_Strict):
    org: Org
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    vkey: str

    @field_validator("vkey")
    @classmethod
    def _vkey(cls, value: str) -> str:
        return _check_vkey(value, SIG_COSIGNATURE_V1)


class GenesisBody(_Strict):
    consortium: Annotated[str, Field(min_length=1, max_length=100)]
    origin: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s+]+$")]
    log: str
    admins: Annotated[list[Org], Field(min_length=1)]
    members: Annotated[list[MemberSpec], Field(min_length=1, max_length=1000)]
    witnesses: list[WitnessSpec] = []
    quorum: Annotated[int, Field(ge=0)] = 0

    @field_validator("log")
    @classmethod
    def _log(cls, value: str) -> str:
        return _check_vkey(value)

    @model_validator(mode="after")
    def _consistent(self) -> GenesisBody:
        orgs = [m.org for m in self.members]
        if len(set(orgs)) != len(orgs):
            raise ValueError("each org may appear once in members")
        if missing := sorted(set(self.admins) - set(orgs)):
            raise ValueError(f"admins {missing} are not listed in members")
        if missing := sorted({w.org for w in self.witnesses} - set(orgs)):
            raise ValueError(f"witness orgs {missing} are not listed in members")
        if parse_vkey(self.log).name != self.origin:
            raise ValueError("the log key's name must equal the origin")
        if self.quorum > len(self.witnesses):
            raise ValueError("quorum cannot exceed the number of witnesses")
        return self

    def log_verifier(self) -> Verifier:
        return parse_vkey(self.log)

    def roles_of(self, spec: MemberSpec) -> set[str]:
        """A founding member's roles: its own, and `ledger.admin` if genesis names it admin."""
        return set(spec.roles) | ({ADMIN_ROLE} if spec.org in self.admins else set())


class MemberAdd(MemberSpec):
    pass


class MemberUpdate(_Strict):
    org: Org
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    roles: Annotated[list[Role], Field(max_length=32)] | None = None
    filing: Annotated[str, Field(max_length=100)] | None = None
    active: bool | None = None


class KeyAdd(_Strict):
    org: Org
    vkey: str

    @field_validator("vkey")
    @classmethod
    def _vkey(cls, value: str) -> str:
        return _check_vkey(value)


class KeyRevoke(_Strict):
    org: Org
    key: Annotated[str, Field(pattern=r"^[0-9a-f]{8}$")]
    reason: Annotated[str, Field(max_length=500)] = ""


ADMIN = frozenset({ADMIN_ROLE})


def new_member_row(spec: MemberSpec, roles: set[str], at: int) -> MemberRow:
    """The members row for an org admitted at index `at` (genesis or ledger.member.add)."""
    return MemberRow(spec.org, spec.name, tuple(sorted(roles)), spec.filing, True, at, at)


def updated_member_row(current: MemberRow, body: MemberUpdate, at: int) -> MemberRow:
    """The members row after a ledger.member.update at index `at`: absent fields stay."""
    return MemberRow(
        org=current.org,
        name=current.name if body.name is None else body.name,
        roles=current.roles if body.roles is None else tuple(sorted(set(body.roles))),
        filing=current.filing if body.filing is None else body.filing,
        active=current.active if body.active is None else body.active,
        added_at=current.added_at,
        updated_at=at,
    )


class GovernanceStore(Protocol):
    """Where the governance replay reads and writes members and keys: the Repository (the live
    projection, inside the block's transaction) or the memory of a `GovernanceState`."""

    def member(self, org: str) -> MemberRow | None: ...

    def all_members(self) -> Iterable[MemberRow]: ...

    def upsert_member(self, row: MemberRow) -> None: ...

    def key(self, org: str, key_id: str) -> KeyRow | None: ...

    def all_keys(self) -> Iterable[KeyRow]: ...

    def insert_key(self, row: KeyRow) -> None: ...

    def revoke_key(self, org: str, key_id: str, at: int) -> None: ...


GOVERNANCE_BODIES = (GenesisBody, MemberAdd, MemberUpdate, KeyAdd, KeyRevoke)


def check_governance(
    store: GovernanceStore, index: int, envelope_org: str, envelope_key: str, body: BaseModel
) -> None:
    """The governance state rules (pipeline step 9) for the entry at `index`, signed by
    `envelope_org` with key `envelope_key`; raises StateConflict with the rule it breaks.

    The one copy of these rules: the live projection and every replay (audit, proof bundles)
    call it, so they cannot drift apart. Bodies of other types pass."""
    if isinstance(body, GenesisBody):
        if index != 0:
            raise StateConflict("the ledger already has a genesis entry")
        if envelope_org not in body.admins:
            raise StateConflict(f"genesis must be signed by an admin org, not {envelope_org!r}")
    elif isinstance(body, GOVERNANCE_BODIES) and index == 0:
        raise StateConflict("the first entry of a ledger must be ledger.genesis")
    elif isinstance(body, MemberAdd):
        if store.member(body.org) is not None:
            raise StateConflict(f"org {body.org!r} is already a member")
    elif isinstance(body, MemberUpdate):
        current = store.member(body.org)
        if current is None:
            raise StateConflict(f"org {body.org!r} is not a member")
        _keep_an_admin(store, current, body)
    elif isinstance(body, KeyAdd):
        if store.member(body.org) is None:
            raise StateConflict(f"org {body.org!r} is not a member")
        if store.key(body.org, parse_vkey(body.vkey).key_id_hex) is not None:
            raise StateConflict(f"org {body.org!r} already has that key id")
    elif isinstance(body, KeyRevoke):
        key = store.key(body.org, body.key)
        if key is None:
            raise StateConflict(f"org {body.org!r} has no key {body.key}")
        if key.revoked_at is not None:
            raise StateConflict(f"key {body.key} of {body.org!r} is already revoked")
        if envelope_org == body.org and envelope_key == body.key:
            raise StateConflict("a key cannot sign its own revocation; use another admin key")


def _keep_an_admin(store: GovernanceStore, current: MemberRow, body: MemberUpdate) -> None:
    """Refuse the update that would leave no admin able to sign: an admin counts only while it
    is active and holds an unrevoked key, or a sole admin could be left without a key.

    Key revocations need no such check: the admin signing one keeps its own key."""
    loses_admin = ADMIN_ROLE in current.roles and (
        body.active is False or (body.roles is not None and ADMIN_ROLE not in body.roles)
    )
    if not loses_admin:
        return
    admins = {
        m.org
        for m in store.all_members()
        if m.org != current.org and m.active and ADMIN_ROLE in m.roles
    }
    if not any(k.org in admins and k.revoked_at is None for k in store.all_keys()):
        raise StateConflict(
            f"{current.org!r} is the last active admin with an unrevoked key and must stay one"
        )


def apply_governance(store: GovernanceStore, index: int, body: BaseModel) -> None:
    """Write what the entry at `index` changes; only for an entry `check_governance` accepted.
    Bodies of other types change nothing."""
    if isinstance(body, GenesisBody):
        for spec in body.members:
            _add_member(store, spec, body.roles_of(spec), index)
    elif isinstance(body, MemberAdd):
        _add_member(store, body, set(body.roles), index)
    elif isinstance(body, MemberUpdate):
        current = store.member(body.org)
        assert current is not None  # check_governance guarantees it
        store.upsert_member(updated_member_row(current, body, index))
    elif isinstance(body, KeyAdd):
        key_id = parse_vkey(body.vkey).key_id_hex
        store.insert_key(KeyRow(body.org, key_id, body.vkey, index, None))
    elif isinstance(body, KeyRevoke):
        store.revoke_key(body.org, body.key, index)


def _add_member(store: GovernanceStore, spec: MemberSpec, roles: set[str], at: int) -> None:
    store.upsert_member(new_member_row(spec, roles, at))
    for vkey in spec.vkeys:
        store.insert_key(KeyRow(spec.org, parse_vkey(vkey).key_id_hex, vkey, at, None))


class MembershipProjection:
    """Keeps the members and member_keys tables; enforces governance state rules (step 9)."""

    def check(self, conn: Connection, entry: SequencedEntry) -> None:
        envelope = entry.envelope
        check_governance(Repository(conn), entry.index, envelope.org, envelope.key, entry.body)

    def apply(self, conn: Connection, entry: SequencedEntry) -> None:
        apply_governance(Repository(conn), entry.index, entry.body)

    def clear(self, conn: Connection) -> None:
        pass  # members and member_keys are cleared with the ledger's other derived tables


class GovernanceState:
    """The ledger's governance replayed in memory from signed entries, by the same rules and
    transitions as the live projection (`check_governance`, `apply_governance`).

    Feed it every governance entry in log order, starting with genesis (the audit does, and so
    does a proof-bundle verifier); `apply` refuses what the live pipeline would have refused, with
    the same sentence. It also keeps what genesis fixes: the log key and the witnesses.

    - `members`: org -> row, and `keys`: (org, key id) -> row, exactly as the projection's
      `members` and `member_keys` tables would hold them;
    - `key_at(org, key_id, index)`: the key that may sign for `org` at `index`, or None;
    - `is_active(org)`, `log`, `witnesses` (name -> verifier), `directory()` (members.txt).
    """

    def __init__(self) -> None:
        self.members: dict[str, MemberRow] = {}
        self.keys: dict[tuple[str, str], KeyRow] = {}
        self.log: Verifier | None = None
        self.witnesses: dict[str, Verifier] = {}
        self._store = _MemoryStore(self.members, self.keys)
        self._last: int | None = None  # index of the last entry applied
        self._verifiers: dict[str, Verifier] = {}  # by vkey as spelled in its entry

    def apply(self, index: int, envelope_org: str, envelope_key: str, body: BaseModel) -> None:
        """Check and apply the governance entry at `index`, signed by `envelope_org` with key
        `envelope_key` (whose signature the caller has verified, with `key_at`).

        Raises StateConflict if the entry breaks a governance rule or comes out of order (then
        nothing changed), TypeError if `body` is not a governance body."""
        if not isinstance(body, GOVERNANCE_BODIES):
            raise TypeError(f"{type(body).__name__} is not a governance entry body")
        if self._last is None and not isinstance(body, GenesisBody):
            raise StateConflict("the first entry of a ledger must be ledger.genesis")
        if self._last is not None and index <= self._last:
            raise StateConflict(
                f"entry {index} comes after entry {self._last}: replay entries in log order"
            )
        check_governance(self._store, index, envelope_org, envelope_key, body)
        apply_governance(self._store, index, body)
        if isinstance(body, GenesisBody):
            self.log = body.log_verifier()
            self.witnesses = {w.name: parse_vkey(w.vkey) for w in body.witnesses}
        self._last = index

    def is_active(self, org: str) -> bool:
        member = self.members.get(org)
        return member is not None and member.active

    def key_at(self, org: str, key_id: str, index: int) -> Verifier | None:
        """The verifier of `org`'s key `key_id` if that key may sign the entry at `index`: added
        at or before it and not revoked before it (a key revoked at r signs up to r - 1)."""
        row = self.keys.get((org, key_id))
        if row is None or row.added_at > index:
            return None
        if row.revoked_at is not None and index >= row.revoked_at:
            return None
        return self._verifier(row.vkey)

    def directory(self) -> MemberDirectory:
        """The member keys and revocations, as members.txt states them."""
        return MemberDirectory(
            [MemberKey(k.org, self._verifier(k.vkey), k.revoked_at) for k in self.keys.values()]
        )

    def _verifier(self, vkey: str) -> Verifier:
        if vkey not in self._verifiers:
            self._verifiers[vkey] = parse_vkey(vkey)
        return self._verifiers[vkey]


class _MemoryStore:
    """A GovernanceStore over a GovernanceState's dicts, behaving as the Repository does."""

    def __init__(self, members: dict[str, MemberRow], keys: dict[tuple[str, str], KeyRow]) -> None:
        self.members = members
        self.keys = keys

    def member(self, org: str) -> MemberRow | None:
        return self.members.get(org)

    def all_members(self) -> Iterable[MemberRow]:
        return self.members.values()

    def upsert_member(self, row: MemberRow) -> None:
        current = self.members.get(row.org)  # an update keeps added_at, as the table's does
        self.members[row.org] = row if current is None else replace(row, added_at=current.added_at)

    def key(self, org: str, key_id: str) -> KeyRow | None:
        return self.keys.get((org, key_id))

    def all_keys(self) -> Iterable[KeyRow]:
        return self.keys.values()

    def insert_key(self, row: KeyRow) -> None:
        self.keys[(row.org, row.key_id)] = row

    def revoke_key(self, org: str, key_id: str, at: int) -> None:
        if (row := self.keys.get((org, key_id))) is not None:
            self.keys[(org, key_id)] = replace(row, revoked_at=at)


GOVERNANCE_APP = App(
    name="ledger",
    record_types=[
        RecordType("ledger.genesis", GenesisBody, frozenset(), "the consortium configuration"),
        RecordType("ledger.member.add", MemberAdd, ADMIN, "admit an organisation"),
        RecordType("ledger.member.update", MemberUpdate, ADMIN, "change roles, name, status"),
        RecordType("ledger.key.add", KeyAdd, ADMIN, "give a member another signing key"),
        RecordType("ledger.key.revoke", KeyRevoke, ADMIN, "revoke a member key from now on"),
    ],
    projection=MembershipProjection(),
)
