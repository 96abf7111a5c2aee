"""The certificate as a PDF a bank can print or file: what the certification body signed, the
application and lab tests it answers, the status on the day the PDF was made, and a QR code to
the certificate page, where a browser computes today's status from the signed entries.

Every fact comes from the signed entries (their receipts), not from the projection's rows, so
an operator who edits the derived tables cannot make the PDF say what no member signed. The
PDF is signed by the issuing body's document certificate (PAdES B-B: no embedded timestamp,
because the date it states is what matters and it is on the ledger; see docs/certs.md). It is
made on each request: the status it prints is the day's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Connection

from apps.certs import state
from apps.certs.catalog import CATALOGS
from apps.certs.labels import STATUS
from apps.certs.site import SITE
from apps.certs.status import Event, status_on
from ledger import plugin
from ledger.plugin import Ledger, Row, Section, find_member, render_certificate

EVENTS = {
    "certs.suspend": "suspend",
    "certs.reinstate": "reinstate",
    "certs.revoke": "revoke",
    "certs.change": "change",
}


def page_url(request: Request, ledger: Ledger, number: str) -> str:
    return f"{(ledger.public_url or str(request.base_url)).rstrip('/')}/certs/{number}"


def _entries(ledger: Ledger, conn: Connection, cert: state.Certificate) -> dict[str, Any]:
    """The signed entries behind the certificate, read from their receipts."""
    applied = state.application(conn, cert.application)
    assert applied is not None  # the rules refuse an issue without its application
    reports = state.lab_reports_of(conn, cert.application)
    history = state.history(conn, cert.number)
    indexes = [cert.idx, applied.idx, *(r.idx for r in reports), *(e.index for e in history)]
    receipts = ledger.receipts(conn, indexes)
    issue, application, *rest = receipts
    return {
        "issue": issue,
        "application": application,
        "reports": rest[: len(reports)],
        "events": rest[len(reports) :],
    }


def _name(conn: Connection, org: str) -> str:
    member = find_member(conn, org)
    return org if member is None else f"{member.name} ({org})"


def _sections(conn: Connection, signed: dict[str, Any], today: date) -> list[Section]:
    gettext = SITE.gettext
    issue = signed["issue"].entry
    credential = issue["body"]["credential"]
    about = credential["credentialSubject"]
    valid_from, valid_until = credential["validFrom"][:10], credential["validUntil"][:10]
    events = []
    for receipt in signed["events"]:
        entry = receipt.entry
        body = entry["body"]
        kind = EVENTS.get(entry["type"]) or f"surveil-{body['result']}"
        events.append(Event(kind, date.fromisoformat(body["date"]), receipt.index))
    found = status_on(
        today, date.fromisoformat(valid_from), date.fromisoformat(valid_until), 0, events
    )
    since = (
        ""
        if found.since is None
        else " " + gettext("since %(day)s", day=SITE.format_date(found.since))
    )
    certificate = [
        Row(gettext("Certificate number"), about["certificateNumber"], mono=True),
        Row(gettext("Product"), about["productName"]),
        Row(gettext("Model and version"), f"{about['model']} {about['version']}"),
        Row(gettext("Product type"), CATALOGS[about["catalog"]].get(about["productType"], "?")),
        Row(gettext("Catalog"), gettext("PBoC catalog of %(year)s", year=about["catalog"])),
        Row(gettext("Manufacturer"), _name(conn, about["manufacturer"])),
        Row(gettext("Certification body"), _name(conn, issue["org"])),
        Row(
            gettext("Valid"),
            f"{SITE.format_date(valid_from)} – {SITE.format_date(valid_until)}",
        ),
    ]
    if about.get("previous"):
        certificate.append(Row(gettext("Renews"), about["previous"], mono=True))
    application = signed["application"].entry["body"]
    tests = [
        Row(
            gettext("Application"),
            f"{application['number']}, {SITE.format_date(application['date'])}",
        )
    ]
    for receipt in signed["reports"]:
        report = receipt.entry["body"]
        result = gettext("passed") if report["result"] == "pass" else gettext("failed")
        tests.append(
            Row(
                gettext("Lab test, %(day)s", day=SITE.format_date(report["date"])),
                f"{_name(conn, receipt.entry['org'])}: {result}. {report['report']['title']}, "
                f"SHA-256 {report['report']['sha256']}",
            )
        )
    checkpoint = signed["issue"].checkpoint
    return [
        Section(gettext("Certificate"), certificate),
        Section(gettext("Application and lab tests"), tests),
        Section(
            gettext("Status"),
            [
                Row(
                    gettext("On %(day)s", day=SITE.format_date(today)),
                    gettext(STATUS[found.status]) + since,
                ),
                Row(
                    gettext("Today"),
                    gettext(
                        "A status changes with surveillance, suspension and revocation: scan the "
                        "QR code for the status today, computed in your browser from the signed "
                        "entries."
                    ),
                ),
            ],
        ),
        Section(
            gettext("On the ledger"),
            [
                Row(gettext("Issue entry (log index)"), str(signed["issue"].index)),
                Row(gettext("Credential proof"), credential["proof"]["proofValue"], mono=True),
                Row(gettext("Checkpoint (signed note)"), checkpoint.rstrip(), mono=True),
            ],
        ),
    ]


async def certificate_pdf(
    request: Request, ledger: Ledger, cert: state.Certificate, today: date | None = None
) -> bytes:
    """The certificate's PDF in the request's language, signed by the issuing body."""
    today = today or datetime.now(UTC).date()
    with SITE.speaking(request):
        with ledger.read() as conn:
            signed = _entries(ledger, conn, cert)
            sections = _sections(conn, signed, today)
            body_name = _name(conn, cert.body)
        gettext = SITE.gettext
        url = page_url(request, ledger, cert.number)
        unsigned = render_certificate(
            title=gettext("Fintech product certificate"),
            subtitle=gettext(
                "%(number)s · %(product)s", number=cert.number, product=sections_product(signed)
            ),
            sections=sections,
            qr_url=url,
            qr_caption=gettext("Scan for the status today"),
            footer=gettext(
                "The certificate is the W3C verifiable credential in the issue entry, signed by "
                "the certification body (eddsa-jcs-2022). To check it without this server: "
                "sealchain certs verify CREDENTIAL.json. This PDF is signed by the body's "
                "document certificate, which chains to the consortium CA (/v1/certs/ca.pem)."
            ),
            author=body_name,
        )
    # Through the module: PDF signing loads on first use, not with the app (ledger.plugin).
    return await plugin.sign_pdf(
        unsigned,
        ledger.document_signer(cert.body),
        None,
        reason=f"Fintech product certificate {cert.number}",
        location=ledger.public_url or "Sealchain",
        name=body_name,
    )


def sections_product(signed: dict[str, Any]) -> str:
    about = signed["issue"].entry["body"]["credential"]["credentialSubject"]
    return f"{about['productName']} {about['model']}"
