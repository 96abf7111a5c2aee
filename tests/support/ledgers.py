"""Building real ledgers for tests: a small consortium, signing helpers, bulk filling."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.config import Settings
from ledger.core.envelope import Envelope, sign_envelope
from ledger.core.keys import Signer
from ledger.service.consortium import ConsortiumPlan, OrgPlan
from ledger.service.membership import ADMIN_ROLE
from ledger.service.node import LedgerNode, init_home
from ledger.service.sequencer import Accepted, Outcome
from tests.support.sample_app import SAMPLE_APP

TEST_ORGS = [
    OrgPlan("admin", "Admin org", (ADMIN_ROLE,)),
    OrgPlan("writer-a", "Writer A", ("sample.writer",)),
    OrgPlan("writer-b", "Writer B", ("sample.writer",)),
    OrgPlan("reader", "Reader without roles", ()),
]


def sample_plan() -> ConsortiumPlan:
    return ConsortiumPlan(
        consortium="sealchain-test",
        namespace="sealchain.test",
        admins=["admin"],
        orgs=list(TEST_ORGS),
        witnesses=["writer-b"],
        quorum=0,
    )


@dataclass
class LedgerFixture:
    node: LedgerNode
    signers: dict[str, Signer]
    settings: Settings
    plan: ConsortiumPlan = field(default_factory=sample_plan)

    @property
    def sequencer(self):
        assert self.node.sequencer is not None
        return self.node.sequencer

    def sign(self, org: str, type: str, body: dict[str, Any], **kw: Any) -> Envelope:
        return sign_envelope(self.signers[org], type=type, org=org, body=body, **kw)

    def submit(self, *envelopes: Envelope | bytes) -> list[Outcome]:
        raws = [e if isinstance(e, bytes) else e.raw for e in envelopes]
        return self.sequencer.submit(raws)

    def accept(self, *envelopes: Envelope) -> list[Accepted]:
        outcomes = self.submit(*envelopes)
        for outcome in outcomes:
            if not isinstance(outcome, Accepted):
                raise AssertionError(f"expected acceptance, got {outcome!r}")
        return outcomes  # type: ignore[return-value]

    def fill(self, entries: int, per_block: int) -> None:
        """Add `entries` sample notes and claims in blocks of `per_block`."""
        made = 0
        while made < entries:
            batch = []
            for _ in range(min(per_block, entries - made)):
                org = "writer-a" if made % 3 else "writer-b"
                if made % 5 == 0:
                    batch.append(self.sign(org, "sample.claim", {"item": f"item-{made}"}))
                else:
                    batch.append(self.sign(org, "sample.note", {"text": f"note {made}"}))
                made += 1
            self.accept(*batch)

    def close(self) -> None:
        self.node.close()


def make_ledger(home: Path, database_url: str | None) -> LedgerFixture:
    if home.exists():
        shutil.rmtree(home)
    settings = Settings(home=home, database_url=database_url)
    node, signers = init_home(settings, sample_plan(), extra_apps=[SAMPLE_APP])
    return LedgerFixture(node, signers, settings)
