"""The beef projection's tables: derived from entries (rebuilt by reindex), except
beef_scan_sources, which counts public scans off the ledger and survives a reindex."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()
URI_MAX = 160  # characters of a pack, carton or container URI (a GS1 Digital Link)

lots = Table(
    "beef_lots",
    metadata,
    Column("lot_key", String(120), primary_key=True),  # https://id.gs1.org/01/<gtin>/10/<lot>
    Column("gtin", String(14), nullable=False),
    Column("lot", String(20), nullable=False),
    Column("data", Text, nullable=False),  # LotData JSON
    Column("processor", String(63), nullable=False),
    Column("commissioned_idx", BigInteger, nullable=False),
    Column("packs", Integer, nullable=False),
    Column("recalled_idx", BigInteger, nullable=True),
    Column("recall_reason", Text, nullable=True),
)

objects = Table(
    "beef_objects",
    metadata,
    Column("uri", String(URI_MAX), primary_key=True),
    Column("kind", String(10), nullable=False),  # pack, carton, container
    Column("lot_key", String(120), ForeignKey("beef_lots.lot_key"), nullable=True, index=True),
    Column("parent", String(URI_MAX), nullable=True, index=True),
    Column("holder", String(63), nullable=False),
    Column("in_transit_to", String(63), nullable=True),
    Column("held", Boolean, nullable=False, default=False),  # customs hold
    Column("sold_idx", BigInteger, nullable=True),
    Column("created_idx", BigInteger, nullable=False),
)

events = Table(
    "beef_events",
    metadata,
    Column("event_id", String(100), primary_key=True),
    Column("idx", BigInteger, nullable=False, unique=True),
    Column("tx_id", String(64), nullable=False),
    Column("record_type", String(40), nullable=False),
    Column("org", String(63), nullable=False),
    Column("biz_step", String(60), nullable=False),
    Column("event_time", String(40), nullable=False),
    Column("place", Text, nullable=False),  # Place JSON
    Column("summary", Text, nullable=False),
    Column("corrected_idx", BigInteger, nullable=True),
    Column("correction_note", Text, nullable=True),
)

event_objects = Table(
    "beef_event_objects",
    metadata,
    Column("event_id", String(100), ForeignKey("beef_events.event_id"), primary_key=True),
    Column("uri", String(URI_MAX), primary_key=True),
    Index("beef_event_objects_uri", "uri"),
)

readings = Table(
    "beef_readings",
    metadata,
    Column("event_id", String(100), ForeignKey("beef_events.event_id"), primary_key=True),
    Column("uri", String(URI_MAX), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("time", String(40), nullable=False),
    Column("value", Float, nullable=False),
    Column("status", String(10), nullable=False),  # ok, excursion, alarm
)

certificates = Table(
    "beef_certificates",
    metadata,
    Column("event_id", String(100), ForeignKey("beef_events.event_id"), primary_key=True),
    Column("number", String(60), primary_key=True),
    Column("kind", String(30), nullable=False),
    Column("issuer", Text, nullable=False),
)

shipments = Table(
    "beef_shipments",
    metadata,
    Column("event_id", String(100), ForeignKey("beef_events.event_id"), primary_key=True),
    Column("source", String(63), nullable=False),
    Column("destination", String(63), nullable=False),
    Column("received_idx", BigInteger, nullable=True),
)

lot_trees = Table(  # a lot's commitment (beef.lot) and its packs' Merkle tree (lottree.py)
    "beef_lot_trees",
    metadata,
    Column("lot_key", String(120), ForeignKey("beef_lots.lot_key"), primary_key=True),
    Column("idx", BigInteger, nullable=False, unique=True),  # the beef.lot entry
    Column("packs", Integer, nullable=False),
    Column("tree", LargeBinary, nullable=False),  # lottree.levels of the sorted pack URIs
)

scan_sources = Table(  # off the ledger: which (hashed) sources scanned a code (scans.py)
    "beef_scan_sources",
    metadata,
    Column("uri", String(URI_MAX), primary_key=True),
    Column("source", String(16), primary_key=True),  # keyed hash of the client's address
    Column("first_at", String(40), nullable=False),
    Column("last_at", String(40), nullable=False),
    Column("after_sale", Boolean, nullable=False),
)

DERIVED = (readings, certificates, shipments, event_objects, events, objects, lot_trees, lots)
