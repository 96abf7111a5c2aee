"""What every app's test world does: sign a record as an org, sequence it, expect it accepted
or refused with a problem code."""

from __future__ import annotations

from typing import Any

from ledger.core.envelope import sign_envelope
from ledger.core.keys import Signer
from ledger.errors import LedgerError
from ledger.service.node import LedgerNode
from ledger.service.sequencer import Accepted

Record = tuple[str, dict[str, Any]]


class Recorder:
    node: LedgerNode
    signers: dict[str, Signer]

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
