from tests.support.ledgers import LedgerFixture
from ledger.service.audit import audit
def test_smoke(ledger: LedgerFixture):
    ledger.fill(50, 7)
    r = audit(ledger.node.engine, ledger.node.registry)
    assert r.ok, r.first_bad
    assert r.entries == 51
