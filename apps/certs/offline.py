"""Checking a certificate credential with no trust in the server: `sealchain certs verify`.

(1) the eddsa-jcs-2022 proof; (2) the issuer is the did:key of that key, and the trust policy's
members.txt lists the key under the certification body the credential names; (3) the ledger
holds it: the receipt of its certs.issue entry verifies offline and the entry carries exactly
this credential; (4) its status: today's from the body's status lists (signed by the same key,
from saved files or fetched from the URLs in the credential), or, for another date, the ledger's
answer with every receipt it rests on verified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from apps.certs import statuslist
from apps.certs.credentials import CredentialInvalid, did_key, verify_credential
from apps.certs.subject import Subject, read_subject
from ledger.core.policy import TrustPolicy
from ledger.core.receipt import receipt_from_json, verify_receipt

Fetch = Callable[[str], dict[str, Any]]


@dataclass
class Checked:
    subject: Subject
    steps: list[str] = field(default_factory=list)
    status: str = "unknown"


def check_credential(credential: dict[str, Any], trust: TrustPolicy) -> Checked:
    """Steps (1) and (2)."""
    key = verify_credential(credential)
    subject = read_subject(credential)
    checked = Checked(subject, ["(1) the eddsa-jcs-2022 proof verifies"])
    if credential.get("issuer") != did_key(key):
        raise CredentialInvalid("the issuer is not the did:key of the proof's key")
    if not any(k.org == subject.body and k.verifier.public_key == key for k in trust.members.keys):
        raise CredentialInvalid(
            f"the signing key is not a key of {subject.body} in the trust policy's members"
        )
    checked.steps.append(f"(2) signed by a key of {subject.body} (members.txt)")
    return checked


def check_on_ledger(
    checked: Checked, credential: dict[str, Any], issue_receipt: dict[str, Any], trust: TrustPolicy
) -> None:
    """Step (3): the issue entry's receipt verifies and carries this very credential."""
    verified = verify_receipt(receipt_from_json(issue_receipt), trust)
    entry = verified.envelope
    if entry.type != "certs.issue" or entry.body.get("credential") != credential:
        raise CredentialInvalid("the receipt is not of the entry that issued this credential")
    checked.steps.append(f"(3) issued on the ledger at index {verified.index}, receipt verified")


def status_from_lists(
    checked: Checked, lists: dict[str, dict[str, Any]], key: bytes, today: date
) -> None:
    """Step (4), today: the credential's own dates, then the bits of the body's status lists,
    each list signed by `key`."""
    flags = {}
    for purpose in ("revocation", "suspension"):
        listed = lists[purpose]
        if verify_credential(listed) != key:
            raise CredentialInvalid(f"the {purpose} list is not signed by the issuing body's key")
        encoded = listed["credentialSubject"]["encodedList"]
        flags[purpose] = statuslist.bit(statuslist.decode(encoded), checked.subject.status_index)
    subject = checked.subject
    if flags["revocation"]:
        checked.status = "revoked"
    elif today < subject.valid_from:
        checked.status = "not-yet-valid"
    elif today > subject.valid_until:
        checked.status = "expired"
    else:
        checked.status = "suspended" if flags["suspension"] else "valid"
    checked.steps.append(f"(4) status lists of {checked.subject.body}: {checked.status}")


def status_from_ledger(checked: Checked, answer: dict[str, Any], trust: TrustPolicy) -> None:
    """Step (4), on a date: the ledger's answer, each receipt it rests on verified."""
    for receipt in answer["receipts"]:
        verify_receipt(receipt_from_json(receipt), trust)
    checked.status = str(answer["status"])
    checked.steps.append(
        f"(4) on {answer['at']}: {checked.status}, resting on {len(answer['receipts'])} "
        "verified receipts"
    )
