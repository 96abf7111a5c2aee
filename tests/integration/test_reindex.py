"""`reindex` rebuilds projections identical to those written live (docs/architecture.md §4)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, func, insert, select
from typer.testing import CliRunner

from apps.beef.tables import scan_sources as beef_scans
from ledger.cli import app
from ledger.core.keys import Signer
from ledger.service.projection_audit import check_projections
from ledger.service.reindex import reindex
from ledger.storage.engine import read_transaction, write_transaction
from ledger.storage.repository import Repository
from ledger.storage.tables import DERIVED_TABLES
from tests.conftest import create_pg_database, drop_pg_database
from tests.support.ledgers import LedgerFixture, make_ledger
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


def test_projection_check_on_postgres_ignores_scans_counted_during_the_replay(
    tmp_path: Path,
) -> None:
    """PostgreSQL runs the check at READ COMMITTED: a table an app keeps off the ledger must
    not be compared, or a row that a writer outside the ledger's lock commits mid-check would
    show as a difference. (Beef's own scan counter takes the lock, so it waits; on SQLite the
    check holds the only write lock, so nothing can change.)"""
    url = create_pg_database()
    ledger = make_ledger(tmp_path / "home", url)
    scanner = create_engine(url)
    try:
        ledger.fill(30, 10)

        def scan_meanwhile(done: int, total: int) -> None:
            with scanner.begin() as conn:
                conn.execute(
                    insert(beef_scans).values(
                        uri=f"https://id.gs1.org/01/09312345000012/10/L1/21/{done}",
                        source="0123456789abcdef",
                        after_sale=False,
                        first_at="2026-12-02T00:00:00.000Z",
                        last_at="2026-12-02T00:00:00.000Z",
                    )
                )

        check = check_projections(ledger.node.engine, ledger.node.registry, progress=scan_meanwhile)
        assert check.ok, check.first_bad
        assert check.entries == 31
        with scanner.connect() as conn:  # the scan committed; only the replay was rolled back
            assert conn.execute(select(func.count()).select_from(beef_scans)).scalar_one() == 1
    finally:
        scanner.dispose()
        ledger.close()
        drop_pg_database(url)
