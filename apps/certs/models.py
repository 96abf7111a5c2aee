"""Body models of the certs record types. Dates are business dates (`YYYY-MM-DD`), the days a
certificate's status changes on, independent of when the entry was submitted."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from apps.certs.catalog import CATALOGS
from ledger.plugin import Lines, Text

Org = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Number = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{2,40}$")]
Reason = Annotated[str, Field(min_length=1, max_length=500), Lines]
Catalog = Literal["2019", "2022"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Accredit(_Model):
    """certs.accredit: the authority accredits a certification body for product types."""

    body: Org
    scope: Annotated[list[str], Field(min_length=1, max_length=20)]
    validFrom: dt.date
    validUntil: dt.date

    @model_validator(mode="after")
    def _known_types(self) -> Accredit:
        unknown = sorted(set(self.scope) - set(CATALOGS["2022"]))
        if unknown:
            raise ValueError(f"unknown product types {unknown}")
        if self.validUntil < self.validFrom:
            raise ValueError("validUntil is before validFrom")
        return self


class Issue(_Model):
    """certs.issue: the body's certificate, as a W3C credential it signed (apps/certs/
    credentials.py); renewals name the certificate they replace in credentialSubject.previous."""

    credential: dict[str, Any]


class Surveil(_Model):
    number: Number
    date: dt.date
    result: Literal["pass", "fail"]
    report: Text | None = None


class Suspend(_Model):
    number: Number
    date: dt.date
    reason: Reason


class Reinstate(_Model):
    number: Number
    date: dt.date


class Revoke(_Model):
    number: Number
    date: dt.date
    reason: Reason
