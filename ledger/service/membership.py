"""Genesis, membership and keys: the ledger's own governance record types and their projection.

    ledger.genesis        block 0: the consortium configuration, signed by an admin org
    ledger.member.add     {"org", "name", "roles", "vkeys", "filing"}
    ledger.member.update  {"org", "name"?, "roles"?, "filing"?, "active"?}
    ledger.key.add        {"org", "vkey"}
    ledger.key.revoke     {"org", "key", "reason"?}

All but genesis need the `ledger.admin` role. A key added at index a signs entries a..r-1, where
r is the index of its revocation; entries sequenced before the revocation stay valid.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection

from ledger.core.envelope import ORG_RE
from ledger.core.keys import SIG_COSIGNATURE_V1, SIG_ED25519, Verifier, parse_vkey
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


class MembershipProjection:
    """Keeps the members and member_keys tables; enforces governance state rules (step 9)."""

    def check(self, conn: Connection, entry: SequencedEntry) -> None:
        repo, body = Repository(conn), entry.body
        if isinstance(body, GenesisBody):
            if entry.index != 0:
                raise StateConflict("the ledger already has a genesis entry")
        elif isinstance(body, MemberAdd):
            if repo.member(body.org) is not None:
                raise StateConflict(f"org {body.org!r} is already a member")
        elif isinstance(body, MemberUpdate):
            current = repo.member(body.org)
            if current is None:
                raise StateConflict(f"org {body.org!r} is not a member")
            self._keep_an_admin(repo, current, body)
        elif isinstance(body, KeyAdd):
            if repo.member(body.org) is None:
                raise StateConflict(f"org {body.org!r} is not a member")
            if repo.key(body.org, parse_vkey(body.vkey).key_id_hex) is not None:
                raise StateConflict(f"org {body.org!r} already has that key id")
        elif isinstance(body, KeyRevoke):
            key = repo.key(body.org, body.key)
            if key is None:
                raise StateConflict(f"org {body.org!r} has no key {body.key}")
            if key.revoked_at is not None:
                raise StateConflict(f"key {body.key} of {body.org!r} is already revoked")
            if entry.envelope.org == body.org and entry.envelope.key == body.key:
                raise StateConflict("a key cannot sign its own revocation; use another admin key")

    @staticmethod
    def _keep_an_admin(repo: Repository, current: MemberRow, body: MemberUpdate) -> None:
        """Refuse the update that would leave no admin able to sign: an admin counts only while
        it is active and holds an unrevoked key, or a sole admin could be left without a key.

        Key revocations need no such check: the admin signing one keeps its own key."""
        loses_admin = ADMIN_ROLE in current.roles and (
            body.active is False or (body.roles is not None and ADMIN_ROLE not in body.roles)
        )
        if not loses_admin:
            return
        admins = {
            m.org
            for m in repo.all_members()
            if m.org != current.org and m.active and ADMIN_ROLE in m.roles
        }
        if not any(k.org in admins and k.revoked_at is None for k in repo.all_keys()):
            raise StateConflict(
                f"{current.org!r} is the last active admin with an unrevoked key and must stay one"
            )

    def apply(self, conn: Connection, entry: SequencedEntry) -> None:
        repo, body, at = Repository(conn), entry.body, entry.index
        if isinstance(body, GenesisBody):
            for spec in body.members:
                self._add_member(repo, spec, body.roles_of(spec), at)
        elif isinstance(body, MemberAdd):
            self._add_member(repo, body, set(body.roles), at)
        elif isinstance(body, MemberUpdate):
            current = repo.member(body.org)
            assert current is not None  # check() guarantees it
            repo.upsert_member(updated_member_row(current, body, at))
        elif isinstance(body, KeyAdd):
            verifier = parse_vkey(body.vkey)
            repo.insert_key(KeyRow(body.org, verifier.key_id_hex, body.vkey, at, None))
        elif isinstance(body, KeyRevoke):
            repo.revoke_key(body.org, body.key, at)

    @staticmethod
    def _add_member(repo: Repository, spec: MemberSpec, roles: set[str], at: int) -> None:
        repo.upsert_member(new_member_row(spec, roles, at))
        for vkey in spec.vkeys:
            repo.insert_key(KeyRow(spec.org, parse_vkey(vkey).key_id_hex, vkey, at, None))

    def clear(self, conn: Connection) -> None:
        pass  # members and member_keys are cleared with the ledger's other derived tables


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
