"""Body models of the certs record types. Dates are business dates (`YYYY-MM-DD`), the days a
certificate's status changes on, independent of when the entry was submitted.

The lifecycle: apply (manufacturer) -> lab-report (testing lab, the report's hash) -> issue
(body, citing the application) -> surveil / suspend / reinstate / revoke / change (body)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from apps.certs.catalog import CATALOGS
from ledger.plugin import Lines, Text

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

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


class Apply(_Model):
    """certs.apply: a manufacturer asks a certification body to certify one product, as
    named here; the certificate must name it the same way (a renewal is a new application)."""

    number: Number
    date: dt.date
    body: Org
    productType: str
    catalog: Catalog
    productName: Text
    model: Text
    version: Text

    @model_validator(mode="after")
    def _in_catalog(self) -> Apply:
        if self.productType not in CATALOGS[self.catalog]:
            raise ValueError(f"{self.productType} is not in the {self.catalog} catalog")
        return self


class TestReport(_Model):
    """The test report a lab registers: its hash only; the report stays with the lab."""

    sha256: Sha256
    title: Text


class LabReport(_Model):
    """certs.lab-report: a testing lab's result for an application, with its report's hash."""

    application: Number
    date: dt.date
    result: Literal["pass", "fail"]
    report: TestReport


class Issue(_Model):
    """certs.issue: the body's certificate, as a W3C credential it signed (apps/certs/
    credentials.py), for an application with a passing lab report; renewals name the
    certificate they replace in credentialSubject.previous."""

    application: Number
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


class Change(_Model):
    """certs.change: the body records a change of the certified product's model or version
    (the credential keeps what was certified; pages and search show the change)."""

    number: Number
    date: dt.date
    model: Text | None = None
    version: Text | None = None
    description: Reason

    @model_validator(mode="after")
    def _changes_something(self) -> Change:
        if self.model is None and self.version is None:
            raise ValueError("a change names a new model, a new version or both")
        return self
