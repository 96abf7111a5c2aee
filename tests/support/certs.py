"""A demo-consortium ledger with the certs app, and a body accredited for POS terminals."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from apps.certs import builders
from ledger.config import Settings
from ledger.core.envelope import sign_envelope
from ledger.core.keys import Signer
from ledger.errors import LedgerError
from ledger.service.consortium import demo_plan
from ledger.service.node import LedgerNode, init_home
from ledger.service.sequencer import Accepted

BASE = "http://127.0.0.1:8000"
Record = tuple[str, dict[str, Any]]


@dataclass
class CertsWorld:
    node: LedgerNode
    signers: dict[str, Signer]
    next_index: int = 0

    def do(self, org: str, record: Record) -> Accepted | LedgerError:
        env = sign_envelope(self.signers[org], type=record[0], org=org, body=record[1])
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

    def credential(self, body: str = "nfcc", **kw: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "number": "PBOC-POS-2019-0001",
            "product_type": "pos",
            "catalog": "2019",
            "product_name": "SmartPOS",
            "model": "SP-100",
            "version": "1.0",
            "manufacturer": "pos-maker",
            "body": body,
            "valid_from": date(2019, 11, 15),
            "valid_until": date(2022, 11, 14),
            "status_index": self.next_index,
            "base_url": BASE,
        }
        fields.update(kw)
        self.next_index += 1
        return builders.credential(self.signers[body], **fields)

    def certify(self, body: str = "nfcc", **kw: Any) -> str:
        signed = self.credential(body, **kw)
        self.ok(body, builders.issue(signed))
        return str(signed["credentialSubject"]["certificateNumber"])


def certs_world(home: Path, database_url: str | None = None) -> CertsWorld:
    if home.exists():
        shutil.rmtree(home)
    node, signers = init_home(Settings(home=home, database_url=database_url), demo_plan())
    world = CertsWorld(node, signers)
    world.ok(
        "pboc", builders.accredit("nfcc", ["pos", "atm"], date(2019, 1, 1), date(2029, 12, 31))
    )
    world.ok(
        "pboc",
        builders.accredit("bctc", ["barcode-terminal"], date(2019, 1, 1), date(2024, 12, 31)),
    )
    return world
