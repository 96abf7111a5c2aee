"""Member routes under /v1/evidence: a case, readable only by its court and its parties
(signed member requests, docs/api.md), with the receipts of every entry it rests on."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import Connection

from apps.evidence import state
from apps.evidence.numbers import deposit_number
from ledger.plugin import (
    SECURITY_HEADERS,
    Forbidden,
    JSONAnswer,
    LedgerDep,
    MemberDep,
    NotFound,
    Unauthenticated,
    problem_responses,
    tr,
)

router = APIRouter(tags=["evidence"])


def _case_summary(case: state.Case) -> dict[str, Any]:
    return {
        "case": case.case_no,
        "court": case.court,
        "title": case.title,
        "cause": case.cause,
        "parties": list(case.parties),
        "sealed": case.sealed_idx is not None,
    }


@router.get(
    "/cases",
    summary="The cases the signed-in member is the court or a party of",
    responses=problem_responses(Unauthenticated),
)
def my_cases(member: MemberDep, ledger: LedgerDep) -> JSONAnswer:
    with ledger.read() as conn:
        found = state.cases_of(conn, member.org)
    return JSONAnswer({"cases": [_case_summary(c) for c in found]}, headers=SECURITY_HEADERS)


def _readable_case(conn: Connection, case_no: str, org: str) -> state.Case:
    found = state.case(conn, case_no)
    if found is None:
        raise NotFound(tr("Case %(case)s is not on this ledger.", case=case_no))
    if org != found.court and org not in found.parties:
        raise Forbidden(
            tr("Case %(case)s is readable only by its court and its parties.", case=case_no)
        )
    return found


@router.get(
    "/cases/{case_no}",
    summary="A case: its parties, deposits, custody events and judgment, with receipts",
    responses=problem_responses(Unauthenticated, Forbidden, NotFound),
)
def get_case(case_no: str, member: MemberDep, ledger: LedgerDep) -> JSONAnswer:
    with ledger.read() as conn:
        found = _readable_case(conn, case_no, member.org)
        events = state.case_events(conn, case_no)
        indexes = state.case_entry_indexes(conn, case_no)
        receipts = {r.index: r.to_json() for r in ledger.receipts(conn, indexes)}
    body = {
        **_case_summary(found),
        "opened": found.opened_idx,
        "events": [
            {
                "index": e.idx,
                "time": e.block_time,
                "org": e.org,
                "event": e.event,
                "deposit": None if e.deposit_idx is None else deposit_number(e.deposit_idx),
                "detail": e.detail,
            }
            for e in events
        ],
        "receipts": receipts,
    }
    return JSONAnswer(body, headers=SECURITY_HEADERS)
