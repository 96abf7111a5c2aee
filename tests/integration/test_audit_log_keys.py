"""The audit trusts the log keys of the policy, which may list an old and a new one: the key
genesis names must be one of them, wherever it stands in the list."""

from __future__ import annotations

from ledger.core.keys import Signer
from ledger.service.audit import audit
from tests.support.ledgers import LedgerFixture

OTHER = Signer.generate("sealchain.test/log").verifier


def test_the_audit_accepts_the_genesis_log_key_anywhere_in_the_policy(
    ledger: LedgerFixture,
) -> None:
    ledger.fill(5, 2)
    real = ledger.node.log_policy.logs[0]
    for keys in ([real], [OTHER, real], [real, OTHER]):
        result = audit(ledger.node.engine, ledger.node.registry, log_keys=keys)
        assert result.ok, (keys, result.first_bad)


def test_the_audit_refuses_a_ledger_whose_genesis_names_no_trusted_log_key(
    ledger: LedgerFixture,
) -> None:
    result = audit(ledger.node.engine, ledger.node.registry, log_keys=[OTHER])
    assert not result.ok
    assert result.where == "entry 0"
    assert "log key other than" in str(result.first_bad)
