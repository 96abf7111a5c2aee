"""The certs projection's tables, derived from entries (rebuilt by `sealchain reindex`)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

accreditations = Table(
    "certs_accreditations",
    metadata,
    Column("idx", BigInteger, primary_key=True),
    Column("body", String(63), nullable=False, index=True),
    Column("scope", Text, nullable=False),  # JSON list of product types
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
)

certificates = Table(
    "certs_certificates",
    metadata,
    Column("number", String(41), primary_key=True),
    Column("idx", BigInteger, nullable=False, unique=True),  # the certs.issue entry
    Column("body", String(63), nullable=False),
    Column("manufacturer", String(63), nullable=False, index=True),
    Column("product_type", String(30), nullable=False, index=True),
    Column("catalog", String(4), nullable=False),
    Column("product_name", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("status_index", Integer, nullable=False),
    Column("previous", String(41), nullable=True),
    Column("application", String(41), nullable=False, unique=True),
    # The rules ask, for every issue, whether the body used this status index already.
    UniqueConstraint("body", "status_index"),
)

applications = Table(
    "certs_applications",
    metadata,
    Column("number", String(41), primary_key=True),
    Column("idx", BigInteger, nullable=False, unique=True),  # the certs.apply entry
    Column("manufacturer", String(63), nullable=False),
    Column("body", String(63), nullable=False),
    Column("product_type", String(30), nullable=False),
    Column("catalog", String(4), nullable=False),
    Column("product_name", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("day", Date, nullable=False),
)

lab_reports = Table(
    "certs_lab_reports",
    metadata,
    Column("idx", BigInteger, primary_key=True),
    Column("application", String(41), nullable=False, index=True),
    Column("lab", String(63), nullable=False),
    Column("day", Date, nullable=False),
    Column("result", String(4), nullable=False),
    Column("sha256", String(64), nullable=False),
)

events = Table(
    "certs_events",
    metadata,
    Column("idx", BigInteger, primary_key=True),
    Column("number", String(41), nullable=False, index=True),
    Column("kind", String(15), nullable=False),  # surveil-pass, surveil-fail, suspend, change...
    Column("day", Date, nullable=False),
    Column("detail", Text, nullable=True),
)

DERIVED = (events, certificates, lab_reports, applications, accreditations)
