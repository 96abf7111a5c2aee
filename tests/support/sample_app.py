"""The worked example of docs/apps.md ("Writing an app"), and the small app the ledger's own
tests run on: two record types, a projection with a state rule, and a public page that the
reader's browser verifies. It imports only `ledger.plugin` and `ledger.core`, as every app must.

    sample.note   {"text", "sha256"?}  any writer may note something (or notarize data)
    sample.claim  {"item"}             an item may be claimed once; /sample/claims/<item>
                                       shows who claimed it, checked in the browser
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
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

from ledger.plugin import (
    App,
    LedgerDep,
    Lines,
    NotFound,
    OneLine,
    RecordType,
    SequencedEntry,
    Site,
    StateConflict,
    tr,
)

# --- the projection's tables: derived from entries, rebuilt by `sealchain reindex` -------------

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

# --- record types: a pydantic body model each ---------------------------------------------------


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, max_length=1000), Lines]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9-]+$"), OneLine]


class SampleProjection:
    """check (pipeline step 9) refuses what the app's rules forbid; apply writes the state."""

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


# --- a public page: the facts come from the signed entry, checked in the browser --------------

SITE = Site("sample", Path(__file__).with_name("sample_site"))
pages = APIRouter()


@pages.get("/sample/claims/{item}", include_in_schema=False)
def claim_page(request: Request, ledger: LedgerDep, item: str) -> Response:
    def read(conn: Connection) -> dict[str, Any]:
        index = conn.execute(select(claims.c.idx).where(claims.c.item == item)).scalar()
        if index is None:
            raise NotFound(tr("Nobody has claimed %(item)s.", item=item))
        return ledger.page_bundle(conn, [index])

    bundle = ledger.read_with_fallback(read)  # a standby's, or the primary's if it lags
    context = {"item": item, "bundle": bundle, "subject": {"item": item}}
    return SITE.render(request, "claim.html", context)


WRITER = frozenset({"sample.writer"})
SAMPLE_APP = App(
    name="sample",
    record_types=[
        RecordType("sample.note", Note, WRITER, "a note, optionally notarizing data by SHA-256"),
        RecordType("sample.claim", Claim, WRITER, "claim an item; each item once"),
    ],
    projection=SampleProjection(),
    metadata=metadata,
    pages=[pages],
    site=SITE,
)
