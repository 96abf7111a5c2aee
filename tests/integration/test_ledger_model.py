"""A stateful model of the whole ledger (hypothesis): random sequences of valid and hostile
submissions, checked against a plain-Python model after every step.

Invariants: the ledger's size is the model's; each outcome is the one the model predicts (with
the right problem code); the audit passes; every accepted entry has a receipt that verifies
offline against the home's trust policy.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from pydantic import ValidationError

from ledger.core.envelope import Envelope, new_nonce
from ledger.core.receipt import verify_receipt
from ledger.errors import LedgerError
from ledger.service.audit import audit
from ledger.service.proofs import receipt_for
from ledger.service.sequencer import Accepted, Outcome
from ledger.storage.engine import read_transaction
from ledger.storage.repository import Repository
from tests.support.ledgers import make_ledger
from tests.support.sample_app import Note

ORGS = ("writer-a", "writer-b", "reader")
ITEMS = ("cow-1", "cow-2", "cow-3")


def shows_as_signed(text: str) -> bool:
    """Whether the sample app takes this note text (it refuses control and bidi characters)."""
    try:
        Note.model_validate({"text": text})
    except ValidationError:
        return False
    return True


class LedgerModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="sealchain-model-"))
        self.ledger = make_ledger(self.tmp / "home", None)
        self.size = 1  # genesis
        self.claimed: dict[str, str] = {}
        self.revoked: set[str] = set()
        self.reader_writes = False  # the reader starts without the sample.writer role
        self.accepted: list[Envelope] = []
        self.used_nonces: dict[str, list[str]] = {org: [] for org in (*ORGS, "admin")}

    def teardown(self) -> None:
        self.ledger.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- what the model predicts ---------------------------------------------------------------

    def expected_code(self, env: Envelope, block_claims: dict[str, str]) -> str | None:
        if env.org in self.revoked:
            return "revoked-key"
        if env.type == "sample.note" and not shows_as_signed(env.body["text"]):
            return "invalid-body"  # step (7) comes before the role (8)
        if env.org == "reader" and env.type.startswith("sample.") and not self.reader_writes:
            return "forbidden-role"
        if env.type == "sample.claim":
            item = env.body["item"]
            if item in self.claimed or item in block_claims:
                return "state-conflict"
        return None

    def submit_block(self, envelopes: list[Envelope]) -> None:
        block_claims: dict[str, str] = {}
        predicted: list[str | None] = []
        for env in envelopes:
            code = self.expected_code(env, block_claims)
            predicted.append(code)
            if code is None and env.type == "sample.claim":
                block_claims[env.body["item"]] = env.org
        outcomes = self.ledger.submit(*envelopes)
        for env, code, outcome in zip(envelopes, predicted, outcomes, strict=True):
            self.check(env, code, outcome)
        self.claimed.update(block_claims)

    def check(self, env: Envelope, code: str | None, outcome: Outcome) -> None:
        if code is None:
            assert isinstance(outcome, Accepted), outcome
            assert outcome.index == self.size
            self.size += 1
            self.accepted.append(env)
            self.used_nonces[env.org].append(env.nonce)
        else:
            assert isinstance(outcome, LedgerError), f"{env.type} by {env.org} was accepted"
            assert outcome.code == code, (code, outcome.detail)

    # --- rules ---------------------------------------------------------------------------------

    @rule(org=st.sampled_from(ORGS), text=st.text(min_size=1, max_size=40))
    def write_note(self, org: str, text: str) -> None:
        self.submit_block([self.ledger.sign(org, "sample.note", {"text": text})])

    @rule(org=st.sampled_from(ORGS), item=st.sampled_from(ITEMS))
    def claim(self, org: str, item: str) -> None:
        self.submit_block([self.ledger.sign(org, "sample.claim", {"item": item})])

    @rule(
        batch=st.lists(
            st.tuples(st.sampled_from(ORGS), st.sampled_from(ITEMS), st.booleans()),
            min_size=2,
            max_size=8,
        )
    )
    def mixed_block(self, batch: list[tuple[str, str, bool]]) -> None:
        envelopes = [
            self.ledger.sign(org, "sample.claim", {"item": item})
            if is_claim
            else self.ledger.sign(org, "sample.note", {"text": item})
            for org, item, is_claim in batch
        ]
        self.submit_block(envelopes)

    @precondition(lambda self: self.accepted)
    @rule(data=st.data())
    def replay_an_entry(self, data: st.DataObject) -> None:
        env = data.draw(st.sampled_from(self.accepted))
        (outcome,) = self.ledger.submit(env)
        assert isinstance(outcome, LedgerError)
        assert outcome.code == "duplicate-entry"

    @precondition(lambda self: any(self.used_nonces[o] for o in ("writer-a", "writer-b")))
    @rule(data=st.data())
    def reuse_a_nonce(self, data: st.DataObject) -> None:
        org = data.draw(st.sampled_from([o for o in ORGS if self.used_nonces[o]]))
        nonce = data.draw(st.sampled_from(self.used_nonces[org]))
        env = self.ledger.sign(org, "sample.note", {"text": "again"}, nonce=nonce)
        (outcome,) = self.ledger.submit(env)
        assert isinstance(outcome, LedgerError)
        # Steps (3) and (8) come before the replay check (6): the reader may have lost its role.
        assert outcome.code == (self.expected_code(env, {}) or "replay")

    @precondition(lambda self: "writer-b" not in self.revoked)
    @rule()
    def revoke_writer_b(self) -> None:
        key = self.ledger.signers["writer-b"].key_id_hex
        env = self.ledger.sign("admin", "ledger.key.revoke", {"org": "writer-b", "key": key})
        self.check(env, None, self.ledger.submit(env)[0])
        self.revoked.add("writer-b")

    @rule(writes=st.booleans(), name=st.none() | st.text(min_size=1, max_size=40))
    def update_reader(self, writes: bool, name: str | None) -> None:
        """Governance that changes what the live checks read from the members table."""
        body: dict[str, object] = {"org": "reader", "roles": ["sample.writer"] if writes else []}
        if name is not None:
            body["name"] = name
        env = self.ledger.sign("admin", "ledger.member.update", body)
        self.check(env, None, self.ledger.submit(env)[0])
        self.reader_writes = writes

    @rule()
    def fresh_nonce_from_unknown_org_is_refused(self) -> None:
        env = self.ledger.sign("writer-a", "sample.note", {"text": "x"}, nonce=new_nonce())
        forged = env.raw.replace(b'"org":"writer-a"', b'"org":"mallory"')
        (outcome,) = self.ledger.submit(forged)
        assert isinstance(outcome, LedgerError)
        assert outcome.code == "unknown-org"

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def size_matches_the_model(self) -> None:
        with read_transaction(self.ledger.node.engine) as conn:
            assert Repository(conn).tree_size() == self.size

    @invariant()
    def audit_passes(self) -> None:
        result = audit(self.ledger.node.engine, self.ledger.node.registry)
        assert result.ok, result.first_bad
        assert result.entries == self.size

    @invariant()
    def latest_receipt_verifies_offline(self) -> None:
        if not self.accepted:
            return
        self.ledger.node.write_members_file()
        policy = self.ledger.node.home.trust_policy()
        with read_transaction(self.ledger.node.engine) as conn:
            for env in (self.accepted[0], self.accepted[-1]):
                verify_receipt(receipt_for(conn, env.tx_id), policy)


LedgerModel.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerModel = LedgerModel.TestCase
