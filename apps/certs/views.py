"""What the certs routes answer: a certificate's credential, its status on a date with the
receipts it rests on, and the bodies' status list credentials."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection

from apps.certs import state, statuslist
from apps.certs.builders import CONTEXT, status_list_url
from apps.certs.credentials import did_key, sign_credential
from apps.certs.status import Status, status_on
from ledger.plugin import Ledger, NotFound, tr


def certificate_or_404(conn: Connection, number: str) -> state.Certificate:
    found = state.certificate(conn, number)
    if found is None:
        raise NotFound(tr("Certificate %(number)s is not on this ledger.", number=number))
    return found


def status_of(conn: Connection, cert: state.Certificate, day: date) -> Status:
    return status_on(
        day, cert.valid_from, cert.valid_until, cert.idx, state.history(conn, cert.number)
    )


def application_json(conn: Connection, cert: state.Certificate) -> dict[str, Any]:
    """The application a certificate answers and its lab reports (hashes of the reports)."""
    applied = state.application(conn, cert.application)
    assert applied is not None  # the rules refuse an issue without its application
    return {
        "number": applied.number,
        "date": applied.day.isoformat(),
        "index": applied.idx,
        "labReports": [
            {
                "lab": r.lab,
                "date": r.day.isoformat(),
                "result": r.result,
                "sha256": r.sha256,
                "index": r.idx,
            }
            for r in state.lab_reports_of(conn, cert.application)
        ],
    }


def credential_of(ledger: Ledger, conn: Connection, cert: state.Certificate) -> dict[str, Any]:
    (receipt,) = ledger.receipts(conn, [cert.idx])
    credential: dict[str, Any] = receipt.entry["body"]["credential"]
    return credential


def status_json(
    ledger: Ledger, conn: Connection, cert: state.Certificate, day: date
) -> dict[str, Any]:
    found = status_of(conn, cert, day)
    receipts = ledger.receipts(conn, list(found.rests_on))
    return {
        "number": cert.number,
        "at": day.isoformat(),
        "status": found.status,
        "since": None if found.since is None else found.since.isoformat(),
        "validFrom": cert.valid_from.isoformat(),
        "validUntil": cert.valid_until.isoformat(),
        "receipts": [r.to_json() for r in receipts],
    }


def status_list_credential(
    ledger: Ledger, conn: Connection, body: str, purpose: str, base_url: str
) -> dict[str, Any]:
    """The body's status list for `purpose` as of today, signed with the body's key."""
    today = datetime.now(UTC).date()
    flagged = {"revocation": {"revoked"}, "suspension": {"suspended", "non-compliant"}}[purpose]
    bits = [
        cert.status_index
        for cert in state.certificates_of_body(conn, body)
        if status_of(conn, cert, today).status in flagged
    ]
    signer = ledger.member_signer(body)
    url = status_list_url(base_url, body, purpose)
    document = {
        "@context": CONTEXT,
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": did_key(signer.verifier.public_key),
        "validFrom": f"{today.isoformat()}T00:00:00Z",
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": statuslist.encode(bits),
        },
    }
    return sign_credential(document, signer, f"{today.isoformat()}T00:00:00Z")
