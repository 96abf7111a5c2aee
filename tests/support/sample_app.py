"""A small app used by the ledger's own tests: a record type with a body model, a role, a
projection with its own tables and a state rule, registered the way real apps are."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

from ledger.errors import StateConflict
from ledger.service.app import App, RecordType, SequencedEntry

metadata = MetaData()
claims = Table(
    "sample_claims",
    metadata,
    Column("item", String(100), primary_key=True),
    Column("org", String(63), nullable=False),
    Column("idx", Integer, nullable=False),
)
note_counts = Table(
    "sample_note_counts",
    metadata,
    Column("org", String(63), primary_key=True),
    Column("notes", Integer, nullable=False),
    Column("last_text", String(1000), nullable=False),
)


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, max_length=1000)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: Annotated[str, Field(min_length=1, max_length=100)]


class SampleProjection:
    def check(self, conn: Connection, entry: SequencedEntry) -> None:
        if isinstance(entry.body, Claim):
            holder = conn.execute(
                select(claims.c.org).where(claims.c.item == entry.body.item)
            ).scalar()
            if holder is not None:
                raise StateConflict(f"item {entry.body.item!r} is already claimed by {holder}")

    def apply(self, conn: Connection, entry: SequencedEntry) -> None:
        org = entry.envelope.org
        if isinstance(entry.body, Claim):
            conn.execute(insert(claims).values(item=entry.body.item, org=org, idx=entry.index))
        elif isinstance(entry.body, Note):
            done = conn.execute(
                update(note_counts)
                .where(note_counts.c.org == org)
                .values(notes=note_counts.c.notes + 1, last_text=entry.body.text)
            )
            if done.rowcount == 0:
                conn.execute(
                    insert(note_counts).values(org=org, notes=1, last_text=entry.body.text)
                )

    def clear(self, conn: Connection) -> None:
        conn.execute(delete(claims))
        conn.execute(delete(note_counts))


WRITER = frozenset({"sample.writer"})
SAMPLE_APP = App(
    name="sample",
    record_types=[
        RecordType("sample.note", Note, WRITER, "a note, optionally notarizing data by SHA-256"),
        RecordType("sample.claim", Claim, WRITER, "claim an item; each item once"),
    ],
    projection=SampleProjection(),
    metadata=metadata,
)
