"""A demo-consortium ledger with the evidence app, and helpers to play its rules."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apps.evidence import builders
from apps.evidence.demo import AUTHOR, CASE, CASE_TITLE, CAUSE, COURT, INFRINGER
from apps.evidence.numbers import deposit_number
from ledger.config import Settings
from ledger.core.envelope import sign_envelope
from ledger.core.keys import Signer
from ledger.errors import LedgerError
from ledger.service.consortium import demo_plan
from ledger.service.node import LedgerNode, init_home
from ledger.service.sequencer import Accepted

Record = tuple[str, dict[str, Any]]


@dataclass
class EvidenceWorld:
    node: LedgerNode
    signers: dict[str, Signer]

    def do(self, org: str, record: Record) -> Accepted | LedgerError:
        record_type, body = record
        env = sign_envelope(self.signers[org], type=record_type, org=org, body=body)
        assert self.node.sequencer is not None
        (outcome,) = self.node.sequencer.submit([env.raw])
        return outcome

    def ok(self, org: str, record: Record) -> Accepted:
        outcome = self.do(org, record)
        assert isinstance(outcome, Accepted), f"{record[0]} by {org}: {outcome!r}"
        return outcome

    def refused(self, org: str, record: Record, code: str = "state-conflict") -> str:
        outcome = self.do(org, record)
        assert isinstance(outcome, LedgerError), f"{record[0]} by {org} was accepted"
        assert outcome.code == code, outcome.detail
        return outcome.detail

    def deposit(self, org: str, data: bytes, **kw: Any) -> str:
        kw.setdefault("title", "a file")
        kw.setdefault("media_type", "application/octet-stream")
        kw.setdefault("operator", org)
        return deposit_number(self.ok(org, builders.deposit(data, **kw)).index)

    def open_case(self, parties: tuple[str, ...] = (AUTHOR, INFRINGER)) -> str:
        self.ok(COURT, builders.open_case(CASE, CASE_TITLE, CAUSE, list(parties)))
        return CASE


def evidence_world(home: Path, database_url: str | None = None) -> EvidenceWorld:
    if home.exists():
        shutil.rmtree(home)
    node, signers = init_home(Settings(home=home, database_url=database_url), demo_plan())
    return EvidenceWorld(node, signers)
