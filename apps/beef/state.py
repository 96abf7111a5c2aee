"""Reading the beef projection: objects, their contents, lots. Shared by rules and pages."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, select

from apps.beef.tables import lots, objects


@dataclass(frozen=True)
class Obj:
    uri: str
    kind: str
    lot_key: str | None
    parent: str | None
    holder: str
    in_transit_to: str | None
    held: bool
    sold_idx: int | None


def get(conn: Connection, uri: str) -> Obj | None:
    row = conn.execute(select(objects).where(objects.c.uri == uri)).first()
    if row is None:
        return None
    m = row._mapping
    return Obj(
        m["uri"],
        m["kind"],
        m["lot_key"],
        m["parent"],
        m["holder"],
        m["in_transit_to"],
        bool(m["held"]),
        m["sold_idx"],
    )


def children(conn: Connection, uri: str) -> list[str]:
    return list(conn.execute(select(objects.c.uri).where(objects.c.parent == uri)).scalars())


def descendants(conn: Connection, uris: list[str]) -> list[str]:
    """Every object inside `uris` (cartons in containers, packs in cartons), breadth first."""
    found: list[str] = []
    frontier = list(uris)
    while frontier:
        rows = conn.execute(select(objects.c.uri).where(objects.c.parent.in_(frontier))).scalars()
        frontier = list(rows)
        found.extend(frontier)
    return found


def lot(conn: Connection, lot_key: str) -> dict[str, object] | None:
    row = conn.execute(select(lots).where(lots.c.lot_key == lot_key)).first()
    if row is None:
        return None
    values = dict(row._mapping)
    values["data"] = json.loads(values["data"])
    return values
