"""`check_projections` with app tables unlike beef's: JSON columns (PostgreSQL's json has no
equality operator), names long enough that PostgreSQL would cut a prefixed copy's name to the
same 63 bytes, a table without a primary key, and a misnamed off-ledger table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Column, Connection, Integer, MetaData, String, Table, delete, insert

from ledger.config import Settings
from ledger.core.envelope import sign_envelope
from ledger.core.keys import Signer
from ledger.errors import ConfigError
from ledger.service.app import App, RecordType, Registry, SequencedEntry
from ledger.service.node import LedgerNode, init_home
from ledger.service.projection_audit import check_projections
from ledger.service.sequencer import Accepted
from ledger.storage.engine import write_transaction
from tests.support.ledgers import sample_plan
from tests.support.sample_app import SAMPLE_APP

LONG = "toy_" + "x" * 52  # 56 characters: "audit_stored_" + either name is over 63
metadata = MetaData()
first = Table(
    LONG + "_one",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", JSON, nullable=False),
)
second = Table(
    LONG + "_two",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("seen", Integer, nullable=False),
)


class Put(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    value: dict[str, Any]


class ToyProjection:
    def check(self, conn: Connection, entry: SequencedEntry) -> None:
        pass

    def apply(self, conn: Connection, entry: SequencedEntry) -> None:
        body = entry.body
        assert isinstance(body, Put)
        conn.execute(insert(first).values(key=body.key, value=body.value))
        conn.execute(insert(second).values(key=body.key, value=body.value, seen=entry.index))

    def clear(self, conn: Connection) -> None:
        conn.execute(delete(first))
        conn.execute(delete(second))


TOY_APP = App(
    name="toy",
    record_types=[RecordType("toy.put", Put, frozenset({"sample.writer"}), "store a value")],
    projection=ToyProjection(),
    metadata=metadata,
)


@pytest.fixture
def toy_ledger(tmp_path: Path, db_url: str | None) -> Iterator[tuple[LedgerNode, Signer]]:
    settings = Settings(home=tmp_path / "home", database_url=db_url)
    node, signers = init_home(settings, sample_plan(), extra_apps=[SAMPLE_APP, TOY_APP])
    writer = signers["writer-a"]
    assert node.sequencer is not None
    for n in range(3):
        body = {"key": f"k{n}", "value": {"n": n, "tags": ["a", "b"], "nested": {"ok": True}}}
        envelope = sign_envelope(writer, type="toy.put", org="writer-a", body=body)
        (outcome,) = node.sequencer.submit([envelope.raw])
        assert isinstance(outcome, Accepted), outcome
    yield node, writer
    node.close()


def test_json_columns_and_long_names_compare(toy_ledger: tuple[LedgerNode, Signer]) -> None:
    node, _ = toy_ledger
    check = check_projections(node.engine, node.registry)
    assert check.ok, check.first_bad
    assert check.rows == 6 and check.entries == 4  # genesis and three puts


def test_edited_json_value_is_found(toy_ledger: tuple[LedgerNode, Signer]) -> None:
    node, _ = toy_ledger
    with write_transaction(node.engine) as conn:
        conn.execute(second.update().where(second.c.key == "k1").values(value={"n": 99}))
    check = check_projections(node.engine, node.registry)
    assert not check.ok
    assert check.where == f"table {second.name}"
    assert check.first_bad == (
        f"table {second.name}: row key='k1' differs from a replay of the entries in value; "
        "rebuild with `sealchain reindex`"
    )


def test_a_table_without_a_primary_key_is_refused(toy_ledger: tuple[LedgerNode, Signer]) -> None:
    node, _ = toy_ledger
    keyless = MetaData()
    Table("toy_keyless", keyless, Column("value", String(10)))
    registry = Registry([*node.registry.apps, App("keyless", [], metadata=keyless)])
    with pytest.raises(ConfigError, match="toy_keyless has no primary key"):
        check_projections(node.engine, registry)


def test_off_ledger_tables_must_be_the_apps_own() -> None:
    misnamed = App("toy", [], metadata=metadata, off_ledger_tables=frozenset({"toy_scans"}))
    with pytest.raises(ConfigError, match=r"off_ledger_tables \['toy_scans'\]"):
        Registry([misnamed])
