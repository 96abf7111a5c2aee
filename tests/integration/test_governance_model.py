"""A stateful model of governance (hypothesis): random sequences of member and key changes, one
by one and several to a block, go through the live pipeline (the projection over the Repository)
and through a `GovernanceState` fed the same entries; the two must never disagree.

For each envelope the state predicts the live outcome: the problem code of steps (3) and (8)
from its members and keys, and for step (9) acceptance or refusal with the same sentence. After
every step the `members` and `member_keys` tables equal the state's rows, members.txt's keys equal
its directory, and the audit passes.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger.core.canonical import parse_strict
from ledger.core.envelope import Envelope, envelope_from_dict, sign_envelope
from ledger.core.keys import Signer
from ledger.core.policy import MemberDirectory
from ledger.errors import LedgerError, StateConflict
from ledger.service.audit import audit
from ledger.service.membership import ADMIN_ROLE, GovernanceState
from ledger.service.node import member_directory
from ledger.service.sequencer import Accepted, Outcome
from ledger.storage.engine import read_transaction
from ledger.storage.repository import Repository
from tests.support.ledgers import make_ledger

FOUNDERS = ("admin", "writer-a", "writer-b", "reader")
ORGS = (*FOUNDERS, "newcomer", "latecomer")
ROLE_SETS = ([], ["sample.writer"], [ADMIN_ROLE], [ADMIN_ROLE, "sample.writer"])
NEVER_ADDED = "0badc0de"
NAMES = re.compile(r"'[^']*'|\b[0-9a-f]{8}\b")  # orgs and key ids, left out of event labels
KINDS = ("ledger.member.add", "ledger.member.update", "ledger.key.add", "ledger.key.revoke")


def keyset(directory: MemberDirectory) -> set[tuple[str, str, int | None]]:
    return {(k.org, k.verifier.vkey, k.revoked_at) for k in directory.keys}


class GovernanceReplay(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="sealchain-governance-"))
        self.ledger = make_ledger(self.tmp / "home", None)
        self.registry = self.ledger.node.registry
        # Every key an org may ever be given: its genesis key (founders) and two spares, so that
        # entries can add a key twice, admit an org with a key it already has, and so on.
        self.keys_of: dict[str, list[Signer]] = {
            org: [
                *([self.ledger.signers[org]] if org in self.ledger.signers else []),
                *(Signer.generate(f"sealchain.test/org/{org}") for _ in range(2)),
            ]
            for org in ORGS
        }
        self.state = GovernanceState()
        with read_transaction(self.ledger.node.engine) as conn:
            genesis = envelope_from_dict(parse_strict(Repository(conn).entry_data([0])[0]))
        self.state.apply(0, genesis.org, genesis.key, self.registry.parse_body(genesis)[1])
        self.size = 1

    def teardown(self) -> None:
        self.ledger.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- drawing entries -------------------------------------------------------------------------

    def usable_signers(self) -> list[tuple[str, Signer]]:
        """Keys that may sign governance now, as the state says: an active admin's unrevoked key.
        The rule that keeps an admin guarantees there is always one."""
        found = [
            (org, signer)
            for org in ORGS
            for signer in self.keys_of[org]
            if self.state.is_active(org)
            and ADMIN_ROLE in self.state.members[org].roles
            and self.state.key_at(org, signer.key_id_hex, self.size) is not None
        ]
        assert found, "no admin is left to sign governance"
        return found

    def draw_body(self, data: st.DataObject, kind: str) -> dict[str, Any]:
        org = data.draw(st.sampled_from(ORGS), label="org")
        key = data.draw(st.sampled_from(self.keys_of[org]), label="key")
        if kind == "ledger.member.add":
            roles = data.draw(st.sampled_from(ROLE_SETS), label="roles")
            return {"org": org, "name": f"{org} Ltd", "roles": roles, "vkeys": [key.vkey]}
        if kind == "ledger.member.update":
            body: dict[str, Any] = {"org": org}
            if (
                roles := data.draw(st.none() | st.sampled_from(ROLE_SETS), label="roles")
            ) is not None:
                body["roles"] = roles
            if (active := data.draw(st.none() | st.booleans(), label="active")) is not None:
                body["active"] = active
            if data.draw(st.booleans(), label="rename"):
                body["name"] = f"{org} renamed"
            return body
        if kind == "ledger.key.add":
            return {"org": org, "vkey": key.vkey}
        # Mostly keys the org has or had, in a fixed order (key ids are random: never sort them).
        held = [k.key_id_hex for k in self.keys_of[org] if (org, k.key_id_hex) in self.state.keys]
        key_ids = [*held, key.key_id_hex, NEVER_ADDED]
        return {"org": org, "key": data.draw(st.sampled_from(key_ids), label="key id")}

    def draw_envelope(
        self, data: st.DataObject, *, signer: tuple[str, Signer] | None = None
    ) -> Envelope:
        org, key = signer or data.draw(st.sampled_from(self.usable_signers()), label="signer")
        return self.draw_signed(data, org, key)

    def draw_signed(self, data: st.DataObject, org: str, signer: Signer) -> Envelope:
        kind = data.draw(st.sampled_from(KINDS), label="kind")
        if kind == "ledger.key.revoke" and data.draw(st.integers(0, 3), label="own key") == 0:
            body: dict[str, Any] = {"org": org, "key": signer.key_id_hex}
        else:
            body = self.draw_body(data, kind)
        return sign_envelope(signer, type=kind, org=org, body=body)

    # --- what the state predicts -----------------------------------------------------------------

    def predict(self, env: Envelope) -> tuple[str, str] | None:
        """The live outcome the state predicts at index `self.size` (None: accepted, and then
        applied to the state): steps (3) and (8) as the audit checks them, then (9)."""
        member = self.state.members.get(env.org)
        if member is None or not member.active:
            return ("unknown-org", "")
        key = self.state.keys.get((env.org, env.key))
        if key is None:
            return ("unknown-key", "")
        if self.state.key_at(env.org, env.key, self.size) is None:
            return ("revoked-key", "")
        if ADMIN_ROLE not in member.roles:
            return ("forbidden-role", "")
        _, body = self.registry.parse_body(env)
        before = (dict(self.state.members), dict(self.state.keys))
        try:
            self.state.apply(self.size, env.org, env.key, body)
        except StateConflict as e:
            assert (self.state.members, self.state.keys) == before, "a refusal changed the state"
            return ("state-conflict", e.detail)
        return None

    def submit_block(self, envelopes: list[Envelope]) -> None:
        outcomes = self.ledger.submit(*envelopes)
        for env, outcome in zip(envelopes, outcomes, strict=True):
            self.compare(env, self.predict(env), outcome)

    def compare(self, env: Envelope, predicted: tuple[str, str] | None, outcome: Outcome) -> None:
        if predicted is None:
            assert isinstance(outcome, Accepted), (env.type, env.body, outcome)
            assert outcome.index == self.size
            self.size += 1
            event(f"accepted {env.type}")
            return
        code, detail = predicted
        assert isinstance(outcome, LedgerError), (env.type, env.body, "was accepted", predicted)
        assert outcome.code == code, (env.type, env.body, outcome.detail, predicted)
        if code == "state-conflict":
            assert outcome.detail == detail
        event(f"refused {code}: {NAMES.sub('_', detail)}")

    # --- rules -----------------------------------------------------------------------------------

    @rule(data=st.data())
    def one_governance_entry(self, data: st.DataObject) -> None:
        self.submit_block([self.draw_envelope(data)])

    @rule(data=st.data(), count=st.integers(min_value=2, max_value=4))
    def governance_entries_in_one_block(self, data: st.DataObject, count: int) -> None:
        """Later entries are checked against the state the earlier ones left (a key revoked,
        an admin demoted, an org admitted a moment ago)."""
        self.submit_block([self.draw_envelope(data) for _ in range(count)])

    @rule(data=st.data(), change=st.sampled_from(["revoke", "demote", "deactivate"]))
    def block_that_disarms_a_signer_of_its_own_later_entry(
        self, data: st.DataObject, change: str
    ) -> None:
        """Steps (3) and (8) at the entry's index: the second entry's key or org was fine when the
        block was cut, and an earlier entry of the same block revoked, demoted or deactivated it."""
        signers = self.usable_signers()
        org, signer = data.draw(st.sampled_from(signers), label="signer disarmed")
        by, other = data.draw(st.sampled_from(signers), label="disarmed by")
        if change == "revoke":
            body: dict[str, Any] = {"org": org, "key": signer.key_id_hex}
        else:
            body = {"org": org, **({"roles": []} if change == "demote" else {"active": False})}
        kind = "ledger.key.revoke" if change == "revoke" else "ledger.member.update"
        first = sign_envelope(other, type=kind, org=by, body=body)
        self.submit_block([first, self.draw_envelope(data, signer=(org, signer))])

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def tables_equal_the_replayed_state(self) -> None:
        with read_transaction(self.ledger.node.engine) as conn:
            repo = Repository(conn)
            assert repo.tree_size() == self.size
            assert repo.all_members() == sorted(self.state.members.values(), key=lambda m: m.org)
            assert sorted(repo.all_keys(), key=repr) == sorted(self.state.keys.values(), key=repr)
            assert keyset(member_directory(conn)) == keyset(self.state.directory())

    @invariant()
    def audit_passes(self) -> None:
        result = audit(self.ledger.node.engine, self.registry)
        assert result.ok, result.first_bad
        assert result.members is not None
        assert keyset(result.members) == keyset(self.state.directory())


GovernanceReplay.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestGovernanceReplay = GovernanceReplay.TestCase
