"""Reading a certificate credential: the fields the ledger keeps, checked for shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from apps.certs.credentials import CredentialInvalid


@dataclass(frozen=True)
class Subject:
    number: str
    product_type: str
    catalog: str
    product_name: str
    model: str
    version: str
    manufacturer: str
    body: str
    valid_from: date
    valid_until: date
    status_index: int
    previous: str | None
    status_lists: dict[str, str]  # purpose -> statusListCredential URL


def _day(value: Any, name: str) -> date:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError as e:
        raise CredentialInvalid(f"{name} is not a date-time") from e


def read_subject(credential: dict[str, Any]) -> Subject:
    try:
        subject = credential["credentialSubject"]
        entries = credential["credentialStatus"]
        lists = {e["statusPurpose"]: e["statusListCredential"] for e in entries}
        indexes = {int(e["statusListIndex"]) for e in entries}
        if set(lists) != {"revocation", "suspension"} or len(indexes) != 1:
            raise CredentialInvalid(
                "credentialStatus must hold one revocation and one suspension entry, same index"
            )
        return Subject(
            number=str(subject["certificateNumber"]),
            product_type=str(subject["productType"]),
            catalog=str(subject["catalog"]),
            product_name=str(subject["productName"]),
            model=str(subject["model"]),
            version=str(subject["version"]),
            manufacturer=str(subject["manufacturer"]),
            body=str(subject["certificationBody"]),
            valid_from=_day(credential["validFrom"], "validFrom"),
            valid_until=_day(credential["validUntil"], "validUntil"),
            status_index=indexes.pop(),
            previous=subject.get("previous"),
            status_lists=lists,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise CredentialInvalid(f"the credential lacks or misshapes {e}") from None
