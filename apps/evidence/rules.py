"""Case rules (pipeline step 9): each refusal is a StateConflict saying why.

- only the court that opened a case records its custody events and judgment;
- only a case's parties submit deposits to it (and an appraiser the court sent a deposit to);
- a submitted deposit must be a deposit on the ledger, and is submitted to a case once;
- a deposit is admitted or excluded once: that decision is final;
- a sealed case takes nothing more.

Deposits and stamps have no state rules: anyone may register a hash again, and a verification
lists every registration, earliest first.
"""

from __future__ import annotations

from sqlalchemy import Connection

from apps.evidence import state
from apps.evidence.models import Custody, Judgment, OpenCase, Submit
from apps.evidence.numbers import deposit_index
from ledger.plugin import SequencedEntry, StateConflict, find_member

PARTY, APPRAISAL = "evidence.party", "evidence.appraisal"


def check(conn: Connection, entry: SequencedEntry) -> None:
    body, org = entry.body, entry.envelope.org
    if isinstance(body, OpenCase):
        _check_open(conn, body, org)
    elif isinstance(body, Submit):
        _check_submit(conn, body, org)
    elif isinstance(body, Custody):
        _check_custody(conn, body, org)
    elif isinstance(body, Judgment):
        _court_of_open_case(conn, body.case, org)


def _check_open(conn: Connection, body: OpenCase, org: str) -> None:
    if state.case(conn, body.case) is not None:
        raise StateConflict(f"case {body.case} is already open")
    if org in body.parties:
        raise StateConflict("a court cannot be a party to its own case")
    for party in body.parties:
        member = find_member(conn, party)
        if member is None or not member.active:
            raise StateConflict(f"party {party} is not an active member of the ledger")
        if PARTY not in member.roles:
            raise StateConflict(f"{party} is not registered as a party ({PARTY})")


def _open_case(conn: Connection, case_no: str) -> state.Case:
    found = state.case(conn, case_no)
    if found is None:
        raise StateConflict(f"case {case_no} was never opened")
    if found.sealed_idx is not None:
        raise StateConflict(
            f"case {case_no} is sealed (entry {found.sealed_idx}): it takes nothing more"
        )
    return found


def _court_of_open_case(conn: Connection, case_no: str, org: str) -> state.Case:
    found = _open_case(conn, case_no)
    if found.court != org:
        raise StateConflict(f"case {case_no} is before {found.court}: only that court records it")
    return found


def _deposit(conn: Connection, number: str) -> int:
    idx = deposit_index(number)
    found = None if idx is None else state.registration(conn, idx)
    if found is None or found.kind != "deposit" or idx is None:
        raise StateConflict(f"{number} is not a deposit on the ledger")
    return idx


def _check_submit(conn: Connection, body: Submit, org: str) -> None:
    found = _open_case(conn, body.case)
    idx = _deposit(conn, body.deposit)
    appraiser = bool(state.appraisals_for(conn, body.case, org))
    if org not in found.parties and not appraiser:
        raise StateConflict(
            f"{org} is not a party to case {body.case}: only its parties submit evidence"
        )
    if state.case_deposit(conn, body.case, idx) is not None:
        raise StateConflict(f"{body.deposit} was already submitted to case {body.case}")


def _check_custody(conn: Connection, body: Custody, org: str) -> None:
    _court_of_open_case(conn, body.case, org)
    if body.deposit is None:
        return  # sealing the case
    idx = _deposit(conn, body.deposit)
    submitted = state.case_deposit(conn, body.case, idx)
    if submitted is None:
        raise StateConflict(f"{body.deposit} was not submitted to case {body.case}")
    if submitted.decided_idx is not None:
        raise StateConflict(
            f"the court already decided on {body.deposit} (entry {submitted.decided_idx}): "
            "admission and exclusion are final"
        )
    if body.appraiser is not None:
        member = find_member(conn, body.appraiser)
        if member is None or not member.active or APPRAISAL not in member.roles:
            raise StateConflict(f"{body.appraiser} is not an appraisal centre ({APPRAISAL})")
