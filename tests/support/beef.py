"""A demo-consortium ledger with the beef app, and a small supply chain to play rules on, with
the demo's own products and places (apps.beef.demo)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.beef import builders
from apps.beef.demo import (  # noqa: F401 - the demo's places, for the tests that import them here
    GTIN,
    MEATWORKS,
    PORT_AU,
    PORT_CN,
    STORES,
    WAREHOUSE,
    lot_data,
)
from apps.beef.identifiers import container_uri, pack_id, sscc_uri, with_check_digit
from ledger.config import Settings
from ledger.core.envelope import sign_envelope
from ledger.core.keys import Signer
from ledger.errors import LedgerError
from ledger.service.consortium import demo_plan
from ledger.service.node import LedgerNode, init_home
from ledger.service.sequencer import Accepted

STORE_A = STORES["retail-a"]
CONTAINERS = ["CSQU3054383", "MSKU9070323"]


@dataclass
class BeefWorld:
    node: LedgerNode
    signers: dict[str, Signer]
    lot: str = "L2611"
    packs: list[str] = field(default_factory=list)

    def do(self, org: str, record: tuple[str, dict[str, Any]]) -> Accepted | LedgerError:
        record_type, body = record
        env = sign_envelope(self.signers[org], type=record_type, org=org, body=body)
        assert self.node.sequencer is not None
        (outcome,) = self.node.sequencer.submit([env.raw])
        return outcome

    def ok(self, org: str, record: tuple[str, dict[str, Any]]) -> Accepted:
        outcome = self.do(org, record)
        assert isinstance(outcome, Accepted), f"{record[0]} by {org}: {outcome!r}"
        return outcome

    def refused(
        self, org: str, record: tuple[str, dict[str, Any]], code: str = "state-conflict"
    ) -> str:
        outcome = self.do(org, record)
        assert isinstance(outcome, LedgerError), f"{record[0]} by {org} was accepted"
        assert outcome.code == code, outcome.detail
        return outcome.detail

    def carton(self, n: int) -> str:
        return sscc_uri(with_check_digit(f"1931234500000{n:04d}"))

    def container(self, n: int) -> str:
        return container_uri(CONTAINERS[n])

    def commission(self, count: int = 6, *, commit: bool = False) -> list[str]:
        """Commission `count` packs of `self.lot`; with `commit`, its lot commitment too."""
        self.packs = [pack_id(GTIN, self.lot, f"{i:04d}").uri() for i in range(1, count + 1)]
        commissioned = builders.commission(
            self.packs, lot_data(self.lot), MEATWORKS, builders.now()
        )
        self.ok("au-meatworks", commissioned)
        if commit:
            self.ok("au-meatworks", builders.lot_commitment(commissioned))
        return self.packs


def beef_world(home: Path, database_url: str | None = None) -> BeefWorld:
    if home.exists():
        shutil.rmtree(home)
    node, signers = init_home(Settings(home=home, database_url=database_url), demo_plan())
    return BeefWorld(node, signers)
