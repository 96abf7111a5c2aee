"""`reindex` rebuilds projections identical to those written live (DESIGN 6)."""

from __future__ import annotations

from typer.testing import CliRunner

from ledger.cli import app
from ledger.core.keys import Signer
from ledger.service.reindex import reindex
from ledger.storage.engine import read_transaction, write_transaction
from ledger.storage.repository import Repository
from ledger.storage.tables import DERIVED_TABLES
from tests.support.ledgers import LedgerFixture
from tests.support.sample_app import claims, note_counts

PROJECTED = (*DERIVED_TABLES, claims, note_counts)


def snapshot(ledger: LedgerFixture) -> dict[str, list[tuple[object, ...]]]:
    with read_transaction(ledger.node.engine) as conn:
        repo = Repository(conn)
        return {table.name: repo.dump(table) for table in PROJECTED}


def busy_history(ledger: LedgerFixture) -> None:
    """Notes, claims, a new member, a key rotation, a revocation and a deactivation."""
    ledger.fill(120, 25)
    newcomer = Signer.generate("sealchain.test/org/newcomer")
    body = {"org": "newcomer", "name": "N", "roles": ["sample.writer"], "vkeys": [newcomer.vkey]}
    ledger.accept(ledger.sign("admin", "ledger.member.add", body))
    rotated = Signer.generate("sealchain.test/org/writer-b")
    ledger.accept(ledger.sign("admin", "ledger.key.add", {"org": "writer-b", "vkey": rotated.vkey}))
    old = ledger.signers["writer-b"].key_id_hex
    ledger.accept(ledger.sign("admin", "ledger.key.revoke", {"org": "writer-b", "key": old}))
    ledger.accept(ledger.sign("admin", "ledger.member.update", {"org": "reader", "active": False}))


def test_reindex_rebuilds_identical_projections(ledger: LedgerFixture) -> None:
    busy_history(ledger)
    live = snapshot(ledger)
    assert len(live["sample_claims"]) == 24 and len(live["nonces"]) == 125
    assert reindex(ledger.node.engine, ledger.node.registry) == 125
    assert snapshot(ledger) == live


def test_reindex_repairs_damaged_projections(ledger: LedgerFixture) -> None:
    busy_history(ledger)
    live = snapshot(ledger)
    with write_transaction(ledger.node.engine) as conn:
        conn.execute(claims.delete())
        conn.execute(note_counts.update().values(notes=0))
    assert snapshot(ledger) != live
    result = CliRunner().invoke(
        app, ["reindex", "--home", str(ledger.settings.home)], env=_env(ledger)
    )
    assert result.exit_code == 0, result.output
    assert "reindexed 125 entries" in result.output
    assert snapshot(ledger) == live


def _env(ledger: LedgerFixture) -> dict[str, str]:
    url = ledger.settings.database_url
    return {"SEALCHAIN_DATABASE_URL": url} if url else {}
