"""Certification rules (pipeline step 9): each refusal is a StateConflict saying why.

- only a body accredited for the product type, with the accreditation valid on the issue date,
  may issue; the credential is signed by the key that signed the entry, names that body, and
  its number and status index are new; a certificate lasts at most three years;
- only the issuing body changes a certificate's status; a revoked certificate is final;
- a suspension needs a certificate that is not suspended, a reinstatement one that is;
- events come in date order, inside the certificate's validity;
- a renewal names a certificate of the same manufacturer and product type, not revoked;
- an application names a certification body and a product of the catalog; a lab report is for
  an application not yet certified, dated on or after it; a certificate cites an application
  made to its body for the very product it names, not certified before, whose latest lab
  report, dated on or before the first day of validity, is a pass;
- a change of model or version is recorded by the issuing body, like a status event.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from apps.certs import state
from apps.certs.catalog import CATALOGS, VALIDITY_YEARS
from apps.certs.credentials import CredentialInvalid, verify_credential
from apps.certs.models import (
    Apply,
    Change,
    Issue,
    LabReport,
    Reinstate,
    Revoke,
    Surveil,
    Suspend,
)
from apps.certs.statuslist import MIN_BITS
from apps.certs.subject import Subject, read_subject
from ledger.plugin import SequencedEntry, StateConflict, find_member, signer_public_key

MANUFACTURER = "certs.manufacturer"
BODY = "certs.body"


def check(conn: Connection, entry: SequencedEntry) -> None:
    body, org = entry.body, entry.envelope.org
    if isinstance(body, Apply):
        _check_application(conn, body)
    elif isinstance(body, LabReport):
        _check_lab_report(conn, body)
    elif isinstance(body, Issue):
        _check_issue(conn, entry, body)
    elif isinstance(body, Surveil | Suspend | Reinstate | Revoke | Change):
        _check_event(conn, body, org)


def _check_application(conn: Connection, body: Apply) -> None:
    if state.application(conn, body.number) is not None:
        raise StateConflict(f"application {body.number} already exists")
    member = find_member(conn, body.body)
    if member is None or not member.active or BODY not in member.roles:
        raise StateConflict(f"{body.body} is not a certification body")


def _check_lab_report(conn: Connection, body: LabReport) -> None:
    applied = state.application(conn, body.application)
    if applied is None:
        raise StateConflict(f"application {body.application} does not exist")
    if body.date < applied.day:
        raise StateConflict(f"{body.date} is before the application ({applied.day})")
    certified = state.certified_application(conn, body.application)
    if certified is not None:
        raise StateConflict(f"application {body.application} is already certified ({certified})")


def _check_application_for(conn: Connection, number: str, subject: Subject) -> None:
    applied = state.application(conn, number)
    if applied is None:
        raise StateConflict(f"application {number} does not exist")
    named = (
        applied.manufacturer, applied.body, applied.product_type, applied.catalog,
        applied.product_name, applied.model, applied.version,
    )  # fmt: skip
    certified = (
        subject.manufacturer, subject.body, subject.product_type, subject.catalog,
        subject.product_name, subject.model, subject.version,
    )  # fmt: skip
    if named != certified:
        raise StateConflict(
            f"application {number} is not for this product: it names "
            f"{applied.manufacturer}'s {applied.product_name} {applied.model} {applied.version} "
            f"({applied.product_type}, {applied.catalog} catalog) to {applied.body}"
        )
    previous = state.certified_application(conn, number)
    if previous is not None:
        raise StateConflict(f"application {number} is already certified ({previous})")
    tested = [r for r in state.lab_reports_of(conn, number) if r.day <= subject.valid_from]
    if not tested:
        raise StateConflict(
            f"application {number} has no lab report dated on or before {subject.valid_from}"
        )
    if tested[-1].result != "pass":
        raise StateConflict(
            f"the latest lab report for application {number} ({tested[-1].day}, "
            f"{tested[-1].lab}) is a fail: only a passed test may be certified"
        )


def issued_subject(conn: Connection, entry: SequencedEntry, body: Issue) -> Subject:
    try:
        key = verify_credential(body.credential)
        subject = read_subject(body.credential)
    except CredentialInvalid as e:
        raise StateConflict(f"the credential does not hold: {e.detail}") from e
    env = entry.envelope
    if key != signer_public_key(conn, env.org, env.key):
        raise StateConflict("the credential is not signed by the key that signed this entry")
    if subject.body != env.org:
        raise StateConflict(f"the credential names {subject.body}, not the issuing body {env.org}")
    return subject


def _check_issue(conn: Connection, entry: SequencedEntry, body: Issue) -> None:
    subject = issued_subject(conn, entry, body)
    catalog = CATALOGS.get(subject.catalog)
    if catalog is None or subject.product_type not in catalog:
        raise StateConflict(
            f"{subject.product_type} is not in the {subject.catalog} catalog of product types"
        )
    if not state.accredited(conn, subject.body, subject.product_type, subject.valid_from):
        raise StateConflict(
            f"{subject.body} is not accredited for {subject.product_type} on "
            f"{subject.valid_from}: only an accredited body may certify it"
        )
    if state.certificate(conn, subject.number) is not None:
        raise StateConflict(f"certificate {subject.number} already exists")
    if not subject.valid_from < subject.valid_until <= _years_after(subject.valid_from):
        raise StateConflict(f"a certificate is valid for at most {VALIDITY_YEARS} years")
    if not 0 <= subject.status_index < MIN_BITS:
        raise StateConflict(f"status index {subject.status_index} is outside the status list")
    if state.status_index_taken(conn, subject.body, subject.status_index):
        raise StateConflict(f"{subject.body} already used status index {subject.status_index}")
    member = find_member(conn, subject.manufacturer)
    if member is None or not member.active or MANUFACTURER not in member.roles:
        raise StateConflict(f"{subject.manufacturer} is not a registered manufacturer")
    _check_application_for(conn, body.application, subject)
    if subject.previous is not None:
        previous = state.certificate(conn, subject.previous)
        if previous is None:
            raise StateConflict(f"the renewed certificate {subject.previous} does not exist")
        if (previous.manufacturer, previous.product_type) != (
            subject.manufacturer,
            subject.product_type,
        ):
            raise StateConflict("a renewal is for the same manufacturer and product type")
        if any(e.kind == "revoke" for e in state.history(conn, subject.previous)):
            raise StateConflict(f"{subject.previous} was revoked: it cannot be renewed")


def _years_after(day: date) -> date:
    try:
        return day.replace(year=day.year + VALIDITY_YEARS)
    except ValueError:  # 29 February
        return day.replace(year=day.year + VALIDITY_YEARS, day=28)


def _check_event(
    conn: Connection, body: Surveil | Suspend | Reinstate | Revoke | Change, org: str
) -> None:
    cert = state.certificate(conn, body.number)
    if cert is None:
        raise StateConflict(f"certificate {body.number} does not exist")
    if cert.body != org:
        raise StateConflict(
            f"certificate {body.number} was issued by {cert.body}: only it changes its status"
        )
    past = state.history(conn, body.number)
    if any(e.kind == "revoke" for e in past):
        raise StateConflict(f"certificate {body.number} is revoked: revocation is final")
    if not cert.valid_from <= body.date <= cert.valid_until:
        raise StateConflict(f"{body.date} is outside the certificate's validity")
    if past and body.date < past[-1].day:
        raise StateConflict(f"{body.date} is before the certificate's last event ({past[-1].day})")
    suspended = False
    for event in past:
        if event.kind in ("suspend", "reinstate"):
            suspended = event.kind == "suspend"
    if isinstance(body, Suspend) and suspended:
        raise StateConflict(f"certificate {body.number} is already suspended")
    if isinstance(body, Reinstate) and not suspended:
        raise StateConflict(f"certificate {body.number} is not suspended")
