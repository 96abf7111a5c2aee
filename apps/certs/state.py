"""Reading the certs projection. Every query of the app is here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, bindparam, func, or_, select

from apps.certs.status import Event
from apps.certs.tables import accreditations, applications, certificates, events, lab_reports

# The status route's statements, built once: SQLAlchemy then reuses their compiled form, where
# building a select per call cost more than SQLite takes to answer it.
_CERTIFICATE = select(certificates).where(certificates.c.number == bindparam("number"))
_HISTORY = (
    select(events.c.kind, events.c.day, events.c.idx)
    .where(events.c.number == bindparam("number"))
    .order_by(events.c.idx)
)


@dataclass(frozen=True)
class Certificate:
    number: str
    idx: int
    body: str
    manufacturer: str
    product_type: str
    catalog: str
    product_name: str
    model: str
    version: str
    valid_from: date
    valid_until: date
    status_index: int
    previous: str | None
    application: str


@dataclass(frozen=True)
class Application:
    number: str
    idx: int
    manufacturer: str
    body: str
    product_type: str
    catalog: str
    product_name: str
    model: str
    version: str
    day: date


@dataclass(frozen=True)
class LabReport:
    idx: int
    application: str
    lab: str
    day: date
    result: str
    sha256: str


def application(conn: Connection, number: str) -> Application | None:
    row = conn.execute(select(applications).where(applications.c.number == number)).first()
    return None if row is None else Application(**row._mapping)


def lab_reports_of(conn: Connection, application_number: str) -> list[LabReport]:
    """An application's lab reports in log order (a retest comes after the failed test)."""
    rows = conn.execute(
        select(lab_reports)
        .where(lab_reports.c.application == application_number)
        .order_by(lab_reports.c.idx)
    )
    return [LabReport(**r._mapping) for r in rows]


def certified_application(conn: Connection, application_number: str) -> str | None:
    """The certificate issued for an application, if one was."""
    found: str | None = conn.execute(
        select(certificates.c.number).where(certificates.c.application == application_number)
    ).scalar()
    return found


def certificate(conn: Connection, number: str) -> Certificate | None:
    row = conn.execute(_CERTIFICATE, {"number": number}).first()
    return None if row is None else Certificate(**row._mapping)


def history(conn: Connection, number: str) -> list[Event]:
    rows = conn.execute(_HISTORY, {"number": number})
    return [Event(r.kind, r.day, r.idx) for r in rows]


def accredited(conn: Connection, body: str, product_type: str, on: date) -> bool:
    rows = conn.execute(
        select(accreditations.c.scope).where(
            accreditations.c.body == body,
            accreditations.c.valid_from <= on,
            accreditations.c.valid_until >= on,
        )
    )
    return any(product_type in json.loads(r.scope) for r in rows)


def status_index_taken(conn: Connection, body: str, index: int) -> bool:
    found = conn.execute(
        select(func.count())
        .select_from(certificates)
        .where(certificates.c.body == body, certificates.c.status_index == index)
    ).scalar_one()
    return bool(found)


def certificates_of_body(conn: Connection, body: str) -> list[Certificate]:
    rows = conn.execute(select(certificates).where(certificates.c.body == body))
    return [Certificate(**r._mapping) for r in rows]


def search(conn: Connection, text: str, limit: int = 100) -> list[Certificate]:
    """Certificates whose manufacturer, model, product name or type contains `text`."""
    # % and _ are LIKE's wildcards: a search for them means the characters themselves.
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{escaped}%"
    rows = conn.execute(
        select(certificates)
        .where(
            or_(
                func.lower(certificates.c.manufacturer).like(like, escape="\\"),
                func.lower(certificates.c.model).like(like, escape="\\"),
                func.lower(certificates.c.product_name).like(like, escape="\\"),
                certificates.c.product_type == text,
            )
        )
        .order_by(certificates.c.number)
        .limit(limit)
    )
    return [Certificate(**r._mapping) for r in rows]
