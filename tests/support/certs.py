"""A demo-consortium ledger with the certs app, and a body accredited for POS terminals."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from apps.certs import builders
from ledger.config import Settings
from ledger.core.keys import Signer
from ledger.service.consortium import demo_plan
from ledger.service.node import LedgerNode, init_home
from tests.support.worlds import Record, Recorder

BASE = "http://127.0.0.1:8000"


@dataclass
class CertsWorld(Recorder):
    node: LedgerNode
    signers: dict[str, Signer]
    next_index: int = 0

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

    def issue(self, signed: dict[str, Any], lab: str = "lab-one") -> Record:
        """The issue record for `signed`, once the application it answers and a passing lab
        report are on the ledger. Either may be refused (a credential made to be refused may
        name what no application can): the issue entry then says why it is refused."""
        subject = signed["credentialSubject"]
        application = application_number(subject["certificateNumber"])
        valid_from = date.fromisoformat(signed["validFrom"][:10])
        applied = builders.application_for(application, valid_from - timedelta(days=60), signed)
        self.do(subject["manufacturer"], applied)
        report = builders.lab_report(
            application, valid_from - timedelta(days=20), "pass", REPORT_SHA256, "Test report"
        )
        self.do(lab, report)
        return builders.issue(signed, application)

    def certify(self, body: str = "nfcc", **kw: Any) -> str:
        signed = self.credential(body, **kw)
        self.ok(body, self.issue(signed))
        return str(signed["credentialSubject"]["certificateNumber"])


def application_number(certificate_number: str) -> str:
    return "APP-" + certificate_number


REPORT_SHA256 = hashlib.sha256(b"test report").hexdigest()


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
