"""Record bodies of the certs app, for the CLI, the scenario, the benchmark and the tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from apps.certs.credentials import did_key, sign_credential
from ledger.core.keys import Signer

CONTEXT = ["https://www.w3.org/ns/credentials/v2"]
Record = tuple[str, dict[str, Any]]


def status_list_url(base: str, body: str, purpose: str) -> str:
    return f"{base.rstrip('/')}/v1/certs/status-lists/{body}/{purpose}"


def credential(
    signer: Signer,
    *,
    number: str,
    product_type: str,
    catalog: str,
    product_name: str,
    model: str,
    version: str,
    manufacturer: str,
    body: str,
    valid_from: date,
    valid_until: date,
    status_index: int,
    base_url: str,
    previous: str | None = None,
) -> dict[str, Any]:
    """A certificate as a W3C Verifiable Credential 2.0, signed eddsa-jcs-2022 by `signer`."""
    subject: dict[str, Any] = {
        "id": f"urn:sealchain:org:{manufacturer}",
        "certificateNumber": number,
        "productType": product_type,
        "catalog": catalog,
        "productName": product_name,
        "model": model,
        "version": version,
        "manufacturer": manufacturer,
        "certificationBody": body,
    }
    if previous is not None:
        subject["previous"] = previous
    document = {
        "@context": CONTEXT,
        "id": f"urn:sealchain:certs:{number}",
        "type": ["VerifiableCredential", "FintechProductCertificate"],
        "issuer": did_key(signer.verifier.public_key),
        "name": f"Fintech product certificate {number}",
        "validFrom": f"{valid_from.isoformat()}T00:00:00Z",
        "validUntil": f"{valid_until.isoformat()}T23:59:59Z",
        "credentialSubject": subject,
        "credentialStatus": [
            {
                "id": f"{status_list_url(base_url, body, purpose)}#{status_index}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(status_index),
                "statusListCredential": status_list_url(base_url, body, purpose),
            }
            for purpose in ("revocation", "suspension")
        ],
    }
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return sign_credential(document, signer, created)


def issue(signed_credential: dict[str, Any], application: str) -> Record:
    return "certs.issue", {"application": application, "credential": signed_credential}


def apply(
    number: str,
    day: date,
    body: str,
    *,
    product_type: str,
    catalog: str,
    product_name: str,
    model: str,
    version: str,
) -> Record:
    return "certs.apply", {
        "number": number,
        "date": day.isoformat(),
        "body": body,
        "productType": product_type,
        "catalog": catalog,
        "productName": product_name,
        "model": model,
        "version": version,
    }


def application_for(number: str, day: date, signed_credential: dict[str, Any]) -> Record:
    """The application a credential answers: what it certifies, applied for on `day`."""
    s = signed_credential["credentialSubject"]
    return apply(
        number, day, s["certificationBody"], product_type=s["productType"],
        catalog=s["catalog"], product_name=s["productName"], model=s["model"],
        version=s["version"],
    )  # fmt: skip


def lab_report(application: str, day: date, result: str, report_sha256: str, title: str) -> Record:
    return "certs.lab-report", {
        "application": application,
        "date": day.isoformat(),
        "result": result,
        "report": {"sha256": report_sha256, "title": title},
    }


def change(
    number: str,
    day: date,
    description: str,
    *,
    model: str | None = None,
    version: str | None = None,
) -> Record:
    body: dict[str, Any] = {"number": number, "date": day.isoformat(), "description": description}
    if model is not None:
        body["model"] = model
    if version is not None:
        body["version"] = version
    return "certs.change", body


def accredit(body: str, scope: list[str], valid_from: date, valid_until: date) -> Record:
    return "certs.accredit", {
        "body": body,
        "scope": scope,
        "validFrom": valid_from.isoformat(),
        "validUntil": valid_until.isoformat(),
    }


def surveil(number: str, day: date, result: str, report: str | None = None) -> Record:
    body: dict[str, Any] = {"number": number, "date": day.isoformat(), "result": result}
    if report is not None:
        body["report"] = report
    return "certs.surveil", body


def suspend(number: str, day: date, reason: str) -> Record:
    return "certs.suspend", {"number": number, "date": day.isoformat(), "reason": reason}


def reinstate(number: str, day: date) -> Record:
    return "certs.reinstate", {"number": number, "date": day.isoformat()}


def revoke(number: str, day: date, reason: str) -> Record:
    return "certs.revoke", {"number": number, "date": day.isoformat(), "reason": reason}
