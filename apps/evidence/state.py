"""Reading the evidence projection. Every query of the app is here; rules, routes and pages
call them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Row, select

from apps.evidence.tables import case_deposits, cases, custody, deposits


@dataclass(frozen=True)
class Registration:
    """A deposit or a stamp, as the projection has it (the server's reading, not verified)."""

    idx: int
    tx_id: str
    org: str
    kind: str
    sha256: str | None
    sha3_256: str | None
    digest: str | None
    algorithm: str
    title: str | None
    category: str | None
    size: int | None
    iscc: str | None
    block_height: int
    block_time: str


@dataclass(frozen=True)
class Case:
    case_no: str
    court: str
    title: str
    cause: str
    parties: tuple[str, ...]
    opened_idx: int
    sealed_idx: int | None
    judgment_idx: int | None


def _registration(row: Row[tuple[object, ...]]) -> Registration:
    values = dict(row._mapping)
    values.pop("iscc_bits", None)
    return Registration(**values)


def registration(conn: Connection, idx: int) -> Registration | None:
    row = conn.execute(select(deposits).where(deposits.c.idx == idx)).first()
    return None if row is None else _registration(row)


def registrations_of_hash(conn: Connection, algorithm: str, digest: str) -> list[Registration]:
    """Every deposit and stamp of `digest` (hex), earliest first."""
    column = {"sha256": deposits.c.sha256, "sha3-256": deposits.c.sha3_256}.get(algorithm)
    where: ColumnElement[bool]
    if column is None:
        where = (deposits.c.digest == digest) & (deposits.c.algorithm == algorithm)
    else:
        where = column == digest
    rows = conn.execute(select(deposits).where(where).order_by(deposits.c.idx).limit(1000))
    return [_registration(r) for r in rows]


def text_codes_after(conn: Connection, after: int) -> list[tuple[int, int]]:
    """(idx, 64-bit ISCC body as a signed integer) of every text work registered after `after`."""
    rows = conn.execute(
        select(deposits.c.idx, deposits.c.iscc_bits)
        .where(deposits.c.idx > after, deposits.c.iscc_bits.isnot(None))
        .order_by(deposits.c.idx)
    )
    return [(r.idx, r.iscc_bits) for r in rows]


def registrations(conn: Connection, indexes: list[int]) -> dict[int, Registration]:
    rows = conn.execute(select(deposits).where(deposits.c.idx.in_(indexes)))
    return {r.idx: _registration(r) for r in rows}


def case(conn: Connection, case_no: str) -> Case | None:
    row = conn.execute(select(cases).where(cases.c.case_no == case_no)).first()
    if row is None:
        return None
    values = dict(row._mapping)
    values["parties"] = tuple(json.loads(values["parties"]))
    return Case(**values)


@dataclass(frozen=True)
class CaseDeposit:
    deposit_idx: int
    org: str
    idx: int
    decided_idx: int | None
    appraiser: str | None


def case_deposit(conn: Connection, case_no: str, deposit_idx: int) -> CaseDeposit | None:
    row = conn.execute(
        select(case_deposits).where(
            case_deposits.c.case_no == case_no, case_deposits.c.deposit_idx == deposit_idx
        )
    ).first()
    if row is None:
        return None
    values = dict(row._mapping)
    values.pop("case_no")
    return CaseDeposit(**values)


def appraisals_for(conn: Connection, case_no: str, appraiser: str) -> list[int]:
    """Deposits of the case that the court sent to `appraiser` and has not decided on."""
    rows = conn.execute(
        select(case_deposits.c.deposit_idx).where(
            case_deposits.c.case_no == case_no,
            case_deposits.c.appraiser == appraiser,
            case_deposits.c.decided_idx.is_(None),
        )
    )
    return list(rows.scalars())


def case_entry_indexes(conn: Connection, case_no: str) -> list[int]:
    """Every entry of a case: its opening, the submissions, custody events, the judgment, and
    the deposits submitted to it."""
    found = conn.execute(select(cases.c.opened_idx).where(cases.c.case_no == case_no)).scalars()
    indexes = set(found)
    rows = conn.execute(
        select(case_deposits.c.idx, case_deposits.c.deposit_idx).where(
            case_deposits.c.case_no == case_no
        )
    )
    for r in rows:
        indexes.update((r.idx, r.deposit_idx))
    indexes.update(
        conn.execute(select(custody.c.idx).where(custody.c.case_no == case_no)).scalars()
    )
    return sorted(indexes)


def cases_with_deposit(conn: Connection, deposit_idx: int) -> list[Case]:
    rows = conn.execute(
        select(case_deposits.c.case_no).where(case_deposits.c.deposit_idx == deposit_idx)
    ).scalars()
    return [c for c in (case(conn, n) for n in rows) if c is not None]


def cases_of(conn: Connection, org: str) -> list[Case]:
    """The cases `org` may read: those it is the court or a party of."""
    found = [case(conn, c) for c in conn.execute(select(cases.c.case_no)).scalars()]
    return [c for c in found if c is not None and (org == c.court or org in c.parties)]


@dataclass(frozen=True)
class CaseEvent:
    idx: int
    org: str
    event: str
    deposit_idx: int | None
    detail: str | None
    block_time: str


def case_events(conn: Connection, case_no: str) -> list[CaseEvent]:
    rows = conn.execute(
        select(
            custody.c.idx,
            custody.c.org,
            custody.c.event,
            custody.c.deposit_idx,
            custody.c.detail,
            custody.c.block_time,
        )
        .where(custody.c.case_no == case_no)
        .order_by(custody.c.idx)
    )
    return [CaseEvent(**r._mapping) for r in rows]
