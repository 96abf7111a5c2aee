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
from ledger.core.keys import Signer
from ledger.service.consortium import demo_plan
from ledger.service.node import LedgerNode, init_home
from tests.support.worlds import Recorder


@dataclass
class EvidenceWorld(Recorder):
    node: LedgerNode
    signers: dict[str, Signer]

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
