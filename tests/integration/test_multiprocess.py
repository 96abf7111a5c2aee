"""Several processes share one database: block commits serialise on the database write lock
(BEGIN IMMEDIATE on SQLite, pg_advisory_xact_lock on PostgreSQL) and read the head inside it,
so indexes stay contiguous and no size gets two checkpoints."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from sqlalchemy import func, select

from ledger.config import Settings
from ledger.core.envelope import sign_envelope
from ledger.home import Home
from ledger.service.audit import audit
from ledger.service.node import open_node
from ledger.service.sequencer import Accepted
from ledger.storage.engine import read_transaction
from ledger.storage.tables import checkpoints, entries
from tests.support.ledgers import LedgerFixture
from tests.support.sample_app import SAMPLE_APP

WRITERS = ("writer-a", "writer-b")
PER_PROCESS = 60
BLOCK = 6


def _write(home: str, database_url: str | None, org: str) -> list[int]:
    settings = Settings(home=Path(home), database_url=database_url)
    node = open_node(settings, extra_apps=[SAMPLE_APP])
    assert node.sequencer is not None
    signer = Home(Path(home)).org_signer(org, f"sealchain.test/org/{org}")
    indexes: list[int] = []
    for start in range(0, PER_PROCESS, BLOCK):
        raws = [
            sign_envelope(signer, type="sample.note", org=org, body={"text": f"{org} {i}"}).raw
            for i in range(start, start + BLOCK)
        ]
        for outcome in node.sequencer.submit(raws):
            assert isinstance(outcome, Accepted), outcome
            indexes.append(outcome.index)
    node.close()
    return indexes


def test_two_processes_sequence_into_one_log(ledger: LedgerFixture) -> None:
    home, url = str(ledger.settings.home), ledger.settings.database_url
    with multiprocessing.get_context("spawn").Pool(len(WRITERS)) as pool:
        results = pool.starmap(_write, [(home, url, org) for org in WRITERS])
    every = sorted(i for r in results for i in r)
    assert every == list(range(1, 1 + PER_PROCESS * len(WRITERS)))
    with read_transaction(ledger.node.engine) as conn:
        assert (
            conn.execute(select(func.count()).select_from(entries)).scalar_one() == len(every) + 1
        )
        sizes = conn.execute(select(checkpoints.c.size)).scalars().all()
    assert len(sizes) == len(set(sizes))  # never two checkpoints for one size
    result = audit(ledger.node.engine, ledger.node.registry)
    assert result.ok, result.first_bad
