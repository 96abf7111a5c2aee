"""Reading the beef projection: objects, their contents, lots, the entries about a pack, a
lot's trace and export. Every query of the app is here; rules, pages and routes call them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, func, literal, null, select, union_all

from apps.beef.tables import (
    certificates,
    event_objects,
    events,
    lot_trees,
    lots,
    objects,
    readings,
)
from ledger.plugin import DriverQuery


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
    return None if row is None else _obj(row)


@dataclass(frozen=True)
class LotTree:
    """A committed lot's beef.lot entry and its packs' Merkle tree (lottree.levels)."""

    idx: int
    packs: int
    tree: bytes


# The queries every scan runs, built once: SQLAlchemy caches the compiled form either way, but
# building a select and computing its cache key cost 100-150 µs a call, several times what
# SQLite takes to answer it (measured on the scan path, docs/benchmarks.md); and run on the
# driver (DriverQuery), whose rows are the driver's values: 25 -> 8 µs a statement.
_PACK_AND_LOT = DriverQuery(
    select(
        objects,
        *(c.label(f"lot_{c.name}") for c in lots.c),
        *(c.label(f"tree_{c.name}") for c in lot_trees.c),
    )
    .join(lots, lots.c.lot_key == objects.c.lot_key)
    .outerjoin(lot_trees, lot_trees.c.lot_key == lots.c.lot_key)
    .where(objects.c.uri == bindparam("uri"), objects.c.kind == "pack")
)
_PACK_EVENTS = DriverQuery(
    select(events)
    .join(event_objects, event_objects.c.event_id == events.c.event_id)
    .where(event_objects.c.uri == bindparam("uri"))
    .order_by(events.c.idx)
)
_PACK_FACTS = DriverQuery(
    union_all(
        # A pack's readings and certificates in one statement: each a query of its own cost a
        # round trip through SQLAlchemy (about 30 µs) for what is usually no rows at all.
        select(
            literal("reading").label("fact"),
            readings.c.time,
            readings.c.seq,
            readings.c.value,
            readings.c.status,
            null().label("kind"),
            null().label("number"),
            null().label("issuer"),
        )
        .join(event_objects, event_objects.c.event_id == readings.c.event_id)
        .where(event_objects.c.uri == bindparam("uri")),
        select(
            literal("certificate"),
            null(),
            null(),
            null(),
            null(),
            certificates.c.kind,
            certificates.c.number,
            certificates.c.issuer,
        )
        .join(event_objects, event_objects.c.event_id == certificates.c.event_id)
        .where(event_objects.c.uri == bindparam("uri")),
    )
)


def pack_and_lot(
    conn: Connection, uri: str
) -> tuple[Obj, dict[str, object], LotTree | None] | None:
    """A pack, its lot (as `lot` reads it) and the lot's tree if it is committed, in one query:
    what every scan reads first."""
    row = _PACK_AND_LOT.first(conn, uri=uri)
    if row is None:
        return None
    values = {c.name: getattr(row, f"lot_{c.name}") for c in lots.c}
    values["data"] = json.loads(str(values["data"]))
    tree = None
    if row.tree_idx is not None:
        tree = LotTree(row.tree_idx, row.tree_packs, bytes(row.tree_tree))
    return _obj(row), values, tree


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


def pack_events(conn: Connection, uri: str) -> list[Any]:
    """The events about a pack (through the cartons and containers it was in, and its lot's
    recall), in log order: rows named as the events table's columns."""
    return _PACK_EVENTS.rows(conn, uri=uri)


def entry_indexes(pack_events: list[Any]) -> list[int]:
    """The log indexes of every entry about a pack: its events and their corrections."""
    return sorted({i for row in pack_events for i in (row.idx, row.corrected_idx) if i is not None})


@dataclass(frozen=True)
class Reading:
    time: str
    value: float
    status: str


@dataclass(frozen=True)
class Certificate:
    kind: str
    number: str
    issuer: str


def pack_facts(conn: Connection, uri: str) -> tuple[list[Reading], list[Certificate]]:
    """The readings of a pack's events in time order and the certificates shipped with it, as
    the projection has them (the JSON view's facts)."""
    temps, certs = [], []
    for row in _PACK_FACTS.rows(conn, uri=uri):
        if row.fact == "reading":
            temps.append((row.time, row.seq, Reading(row.time, row.value, row.status)))
        else:
            certs.append(Certificate(row.kind, row.number, row.issuer))
    temps.sort(key=lambda t: t[:2])  # the sensor's order among readings of one time
    certs.sort(key=lambda c: c.number)  # by code point, the same on every backend
    return [reading for _, _, reading in temps], certs


def lot_uris(conn: Connection, lot_key: str) -> list[str]:
    return list(
        conn.execute(
            select(objects.c.uri).where(objects.c.lot_key == lot_key).order_by(objects.c.uri)
        ).scalars()
    )


def _lot_event_ids(lot_key: str) -> Select[tuple[str]]:
    uris = select(objects.c.uri).where(objects.c.lot_key == lot_key)
    return select(event_objects.c.event_id).where(event_objects.c.uri.in_(uris))


def lot_trace(conn: Connection, lot_key: str) -> tuple[list[Obj], list[Obj], list[Row[Any]]]:
    """A lot's packs, every carton and container its packs were ever in (not only where they
    are now), and its events in log order."""
    lot_events = _lot_event_ids(lot_key)
    packs = conn.execute(
        select(objects).where(objects.c.lot_key == lot_key).order_by(objects.c.uri)
    ).all()
    touched = select(event_objects.c.uri).where(event_objects.c.event_id.in_(lot_events))
    holders = conn.execute(
        select(objects)
        .where(objects.c.uri.in_(touched), objects.c.kind != "pack")
        .order_by(objects.c.uri)
    ).all()
    rows = conn.execute(
        select(events).where(events.c.event_id.in_(lot_events)).order_by(events.c.idx)
    ).all()
    return [_obj(p) for p in packs], [_obj(h) for h in holders], list(rows)


def lot_export_rows(
    conn: Connection, lot_key: str, since: str | None, until: str | None
) -> list[Row[Any]]:
    """A lot's events in a time range with their object count and temperature range, in one
    query (grouped), for the CSV export."""
    counts = (
        select(event_objects.c.event_id, func.count().label("objects"))
        .group_by(event_objects.c.event_id)
        .subquery()
    )
    temps = (
        select(
            readings.c.event_id,
            func.min(readings.c.value).label("temperature_min"),
            func.max(readings.c.value).label("temperature_max"),
        )
        .group_by(readings.c.event_id)
        .subquery()
    )
    query = (
        select(events, counts.c.objects, temps.c.temperature_min, temps.c.temperature_max)
        .join(counts, counts.c.event_id == events.c.event_id)
        .outerjoin(temps, temps.c.event_id == events.c.event_id)
        .where(events.c.event_id.in_(_lot_event_ids(lot_key)))
        .order_by(events.c.idx)
    )
    if since:
        query = query.where(events.c.event_time >= since)
    if until:
        query = query.where(events.c.event_time <= until)
    return list(conn.execute(query).all())


def _obj(row: Any) -> Obj:
    """An object from a row of the objects table's columns (SQLAlchemy's or DriverQuery's)."""
    return Obj(
        row.uri,
        row.kind,
        row.lot_key,
        row.parent,
        row.holder,
        row.in_transit_to,
        bool(row.held),  # 0 or 1 from SQLite's driver
        row.sold_idx,
    )
