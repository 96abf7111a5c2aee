"""The audit enforces the governance state rules (pipeline step 9) on the raw entries.

Each case writes one governance entry that breaks one rule, signed by the admin's real key,
through a sequencer whose governance projection has its rules taken out: steps (1)-(8) and (10)
run as live, so the entry, its nonce, the tree, the block and the checkpoint are what the
sequencer would have written, and the members tables what the entries say; only step (9) was
skipped. The audit must fail at that entry, naming the rule with the very sentence the live
pipeline refuses the same envelope with. (Before the audit replayed governance with the
pipeline's own rules, it passed most of these ledgers.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, update
from typer.testing import CliRunner

from ledger.cli import app
from ledger.core.envelope import Envelope, sign_envelope
from ledger.core.keys import Signer, parse_vkey
from ledger.errors import LedgerError, StateConflict
from ledger.service.app import App, Registry, SequencedEntry
from ledger.service.audit import audit
from ledger.service.consortium import generate_keys, genesis_body
from ledger.service.membership import (
    GOVERNANCE_APP,
    KeyAdd,
    MemberAdd,
    MemberUpdate,
    apply_governance,
    new_member_row,
)
from ledger.service.pipeline import Candidate, Validator
from ledger.service.sequencer import Accepted, Sequencer
from ledger.storage.engine import make_engine
from ledger.storage.migrate import migrate
from ledger.storage.repository import KeyRow, Repository
from ledger.storage.tables import member_keys, members
from tests.support.ledgers import LedgerFixture, sample_plan


class TransitionsWithoutRules:
    """The governance projection with its state rules taken out: each entry's transition is
    written over whatever is there, as a replay without rules would (last write wins), so the
    members tables agree with the entries and only the rule is broken."""

    def check(self, conn: Connection, entry: SequencedEntry) -> None:
        pass

    def apply(self, conn: Connection, entry: SequencedEntry) -> None:
        repo, body, at = Repository(conn), entry.body, entry.index
        if isinstance(body, MemberAdd):
            repo.upsert_member(new_member_row(body, set(body.roles), at))
            conn.execute(update(members).where(members.c.org == body.org).values(added_at=at))
            for vkey in body.vkeys:
                replace_key(conn, KeyRow(body.org, parse_vkey(vkey).key_id_hex, vkey, at, None))
        elif isinstance(body, KeyAdd):
            if repo.member(body.org) is not None:  # a key row needs its member row
                replace_key(
                    conn, KeyRow(body.org, parse_vkey(body.vkey).key_id_hex, body.vkey, at, None)
                )
        elif isinstance(body, MemberUpdate):
            if repo.member(body.org) is not None:
                apply_governance(repo, at, body)
        else:
            apply_governance(repo, at, body)

    def clear(self, conn: Connection) -> None:
        pass


def replace_key(conn: Connection, row: KeyRow) -> None:
    conn.execute(
        delete(member_keys).where(member_keys.c.org == row.org, member_keys.c.key_id == row.key_id)
    )
    Repository(conn).insert_key(row)


def sequencer_skipping_governance_rules(ledger: LedgerFixture) -> Sequencer:
    """A sequencer for the same database and log key whose governance projection runs no state
    rule; every other step runs as live."""
    apps = [
        App("ledger", GOVERNANCE_APP.record_types, projection=TransitionsWithoutRules()),
        *(app for app in ledger.node.registry.apps if app.name != "ledger"),
    ]
    registry = Registry(apps)
    return Sequencer(ledger.node.engine, registry, Validator(registry), ledger.sequencer.log_signer)


def fresh_key(org: str) -> Signer:
    return Signer.generate(f"sealchain.test/org/{org}")


def admin(ledger: LedgerFixture, type: str, body: dict[str, object]) -> Envelope:
    return ledger.sign("admin", type, body)


def revoke_writer_a(ledger: LedgerFixture) -> None:
    key = ledger.signers["writer-a"].key_id_hex
    ledger.accept(admin(ledger, "ledger.key.revoke", {"org": "writer-a", "key": key}))


def promote_writer_a_and_revoke_its_key(ledger: LedgerFixture) -> None:
    ledger.accept(
        admin(ledger, "ledger.member.update", {"org": "writer-a", "roles": ["ledger.admin"]})
    )
    revoke_writer_a(ledger)


@dataclass(frozen=True)
class Breach:
    id: str
    entry: Callable[[LedgerFixture], Envelope]  # the governance entry that breaks the rule
    rule: Callable[[LedgerFixture], str]  # the live pipeline's sentence for it
    setup: Callable[[LedgerFixture], None] = lambda ledger: None  # accepted live first


LAST_ADMIN = "'admin' is the last active admin with an unrevoked key and must stay one"

BREACHES = [
    Breach(
        "second-member-add-for-the-same-org",
        lambda lg: admin(
            lg,
            "ledger.member.add",
            {
                "org": "writer-a",
                "name": "Writer A, admitted again",
                "roles": ["sample.writer"],
                "vkeys": [fresh_key("writer-a").vkey],
            },
        ),
        lambda lg: "org 'writer-a' is already a member",
    ),
    Breach(
        "member-update-of-a-non-member",
        lambda lg: admin(lg, "ledger.member.update", {"org": "ghost", "name": "Ghost"}),
        lambda lg: "org 'ghost' is not a member",
    ),
    Breach(
        "member-update-taking-the-last-admins-role",
        lambda lg: admin(lg, "ledger.member.update", {"org": "admin", "roles": []}),
        lambda lg: LAST_ADMIN,
    ),
    Breach(
        "member-update-deactivating-the-last-admin",
        lambda lg: admin(lg, "ledger.member.update", {"org": "admin", "active": False}),
        lambda lg: LAST_ADMIN,
    ),
    Breach(
        "member-update-leaving-only-an-admin-whose-keys-are-revoked",
        lambda lg: admin(lg, "ledger.member.update", {"org": "admin", "roles": []}),
        lambda lg: LAST_ADMIN,
        setup=promote_writer_a_and_revoke_its_key,
    ),
    Breach(
        "key-add-for-a-non-member",
        lambda lg: admin(lg, "ledger.key.add", {"org": "ghost", "vkey": fresh_key("ghost").vkey}),
        lambda lg: "org 'ghost' is not a member",
    ),
    Breach(
        "key-add-of-a-key-id-the-org-already-has",
        lambda lg: admin(
            lg, "ledger.key.add", {"org": "writer-a", "vkey": lg.signers["writer-a"].vkey}
        ),
        lambda lg: "org 'writer-a' already has that key id",
    ),
    Breach(
        "key-revoke-of-a-key-the-org-never-had",
        lambda lg: admin(lg, "ledger.key.revoke", {"org": "writer-a", "key": "0badc0de"}),
        lambda lg: "org 'writer-a' has no key 0badc0de",
    ),
    Breach(
        "key-revoke-of-a-revoked-key",
        lambda lg: admin(
            lg,
            "ledger.key.revoke",
            {"org": "writer-a", "key": lg.signers["writer-a"].key_id_hex},
        ),
        lambda lg: f"key {lg.signers['writer-a'].key_id_hex} of 'writer-a' is already revoked",
        setup=revoke_writer_a,
    ),
    Breach(
        "key-signing-its-own-revocation",
        lambda lg: admin(
            lg, "ledger.key.revoke", {"org": "admin", "key": lg.signers["admin"].key_id_hex}
        ),
        lambda lg: "a key cannot sign its own revocation; use another admin key",
    ),
]


@pytest.mark.parametrize("breach", [pytest.param(b, id=b.id) for b in BREACHES])
def test_audit_refuses_governance_entry_breaking_a_state_rule(
    ledger: LedgerFixture, breach: Breach
) -> None:
    breach.setup(ledger)
    assert audit(ledger.node.engine, ledger.node.registry).ok
    bad = breach.entry(ledger)
    rule = breach.rule(ledger)
    (refused,) = ledger.submit(bad)  # the live pipeline refuses it, and leaves no trace
    assert isinstance(refused, StateConflict), refused
    assert refused.detail == rule

    before = ledger.sign("writer-b", "sample.note", {"text": "same block, just before"})
    outcomes = sequencer_skipping_governance_rules(ledger).submit([before.raw, bad.raw])
    assert all(isinstance(o, Accepted) for o in outcomes), outcomes
    index = outcomes[1].index  # type: ignore[union-attr]

    result = audit(ledger.node.engine, ledger.node.registry)
    assert not result.ok
    assert result.where == f"entry {index}"
    assert result.first_bad == f"entry {index}: {bad.type} breaks a governance rule: {rule}"


def test_audit_refuses_genesis_signed_by_a_non_admin(db_url: str | None, tmp_path: Path) -> None:
    """Block 0 written without the genesis check: the signer is a founding member, not an admin."""
    plan, registry = sample_plan(), Registry([GOVERNANCE_APP])
    keys = generate_keys(plan)
    env = sign_envelope(
        keys.orgs["writer-a"],
        type="ledger.genesis",
        org="writer-a",
        body=genesis_body(plan, keys),
    )
    rule = "genesis must be signed by an admin org, not 'writer-a'"
    engine = make_engine(db_url or f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        migrate(engine)
        sequencer = Sequencer(engine, registry, Validator(registry), keys.log)
        with pytest.raises(StateConflict) as refused:
            sequencer.commit_genesis(env.raw)
        assert refused.value.detail == rule
        record_type, body = registry.parse_body(env)
        written = sequencer.commit_block([Candidate(env, record_type, body)], genesis=True)
        assert not any(isinstance(o, LedgerError) for o in written.outcomes), written.outcomes

        result = audit(engine, registry)
        assert not result.ok and result.where == "entry 0"
        assert result.first_bad == f"entry 0: ledger.genesis breaks a governance rule: {rule}"
    finally:
        engine.dispose()


def test_audit_command_names_the_entry_and_the_rule(ledger: LedgerFixture) -> None:
    """`sealchain audit` exits 1 and prints the entry and the rule, as for any other fault."""
    breach = next(b for b in BREACHES if b.id == "second-member-add-for-the-same-org")
    bad = breach.entry(ledger)
    (outcome,) = sequencer_skipping_governance_rules(ledger).submit([bad.raw])
    assert isinstance(outcome, Accepted)
    url = ledger.settings.database_url
    result = CliRunner().invoke(
        app,
        ["audit", "--home", str(ledger.settings.home)],
        env={"SEALCHAIN_DATABASE_URL": url} if url else {},
    )
    assert result.exit_code == 1, result.output
    expected = (
        f"audit FAILED at entry {outcome.index}: entry {outcome.index}: ledger.member.add "
        f"breaks a governance rule: {breach.rule(ledger)}"
    )
    assert expected in " ".join(result.output.split()), result.output
