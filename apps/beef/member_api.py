"""Member-only routes under /v1/beef (signed requests, docs/api.md): a lot's full trace, and its
events as CSV for the importer's and the regulator's own systems."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from apps.beef import state
from apps.beef.public_api import Gtin, Lot, lot_or_404
from ledger.plugin import (
    InvalidRequest,
    LedgerDep,
    MemberDep,
    NotFound,
    Unauthenticated,
    attachment,
    problem_responses,
)

router = APIRouter(tags=["beef"])


def _object_json(obj: state.Obj) -> dict[str, Any]:
    return {
        "uri": obj.uri,
        "kind": obj.kind,
        "parent": obj.parent,
        "holder": obj.holder,
        "in_transit_to": obj.in_transit_to,
        "held": obj.held,
        "sold_index": obj.sold_idx,
    }


def _event_json(row: Any) -> dict[str, Any]:
    return {
        "index": row.idx,
        "tx_id": row.tx_id,
        "event_id": row.event_id,
        "type": row.record_type,
        "org": row.org,
        "biz_step": row.biz_step,
        "time": row.event_time,
        "place": json.loads(row.place),
        "summary": row.summary,
        "corrected": row.correction_note,
    }


@router.get(
    "/trace",
    summary="Every pack, carton, container, holder and event of a lot (members only)",
    responses=problem_responses(NotFound, InvalidRequest, Unauthenticated),
)
def trace(ledger: LedgerDep, _member: MemberDep, gtin: Gtin, lot: Lot) -> dict[str, Any]:
    with ledger.read() as conn:
        found = lot_or_404(conn, gtin, lot)
        packs, holders, rows = state.lot_trace(conn, str(found["lot_key"]))
    return {
        "lot": found,
        "packs": [_object_json(p) for p in packs],
        "containers": [_object_json(h) for h in holders],
        "events": [_event_json(r) for r in rows],
    }


CSV_FIELDS = [
    "event_time",
    "biz_step",
    "record_type",
    "org",
    "place",
    "city",
    "country",
    "event_id",
    "tx_id",
    "ledger_index",
    "objects",
    "temperature_min",
    "temperature_max",
    "corrected",
]
# A cell a spreadsheet would run as a formula (OWASP "CSV injection"): places, notes and ids
# are member-written text, and a member's export may be opened by someone else.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """Text that a spreadsheet would read as a formula gets a leading apostrophe, which shows
    it as text; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@router.get(
    "/export.csv",
    summary="Key data elements of each event of a lot in a time range, as CSV (members only)",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problem_responses(NotFound, InvalidRequest, Unauthenticated),
    },
)
def export_csv(
    ledger: LedgerDep,
    _member: MemberDep,
    gtin: Gtin,
    lot: Lot,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    with ledger.read() as conn:
        found = lot_or_404(conn, gtin, lot)
        rows = state.lot_export_rows(conn, str(found["lot_key"]), since, until)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for r in rows:
        place = json.loads(r.place)
        row = {
            "event_time": r.event_time,
            "biz_step": r.biz_step,
            "record_type": r.record_type,
            "org": r.org,
            "place": place["name"],
            "city": place["city"],
            "country": place["country"],
            "event_id": r.event_id,
            "tx_id": r.tx_id,
            "ledger_index": r.idx,
            "objects": r.objects,
            "temperature_min": "" if r.temperature_min is None else r.temperature_min,
            "temperature_max": "" if r.temperature_max is None else r.temperature_max,
            "corrected": r.correction_note or "",
        }
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return Response(
        out.getvalue(), media_type="text/csv", headers=attachment(f"beef-{gtin}-{lot}.csv")
    )
