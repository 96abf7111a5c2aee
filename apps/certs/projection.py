"""The certs projection: accreditations, certificates and their events, written in the block's
transaction and rebuilt identically by `sealchain reindex`."""

from __future__ import annotations

import json

from sqlalchemy import Connection, delete, insert, update

from apps.certs import rules
from apps.certs.models import (
    Accredit,
    Apply,
    Change,
    Issue,
    LabReport,
    Reinstate,
    Revoke,
    Surveil,
    Suspend,
)
from apps.certs.subject import read_subject
from apps.certs.tables import (
    DERIVED,
    accreditations,
    applications,
    certificates,
    events,
    lab_reports,
)
from ledger.plugin import SequencedEntry


class CertsProjection:
    def check(self, conn: Connection, entry: SequencedEntry) -> None:
        rules.check(conn, entry)

    def clear(self, conn: Connection) -> None:
        for table in DERIVED:
            conn.execute(delete(table))

    def apply(self, conn: Connection, entry: SequencedEntry) -> None:
        body, idx = entry.body, entry.index
        if isinstance(body, Accredit):
            conn.execute(
                insert(accreditations).values(
                    idx=idx,
                    body=body.body,
                    scope=json.dumps(body.scope),
                    valid_from=body.validFrom,
                    valid_until=body.validUntil,
                )
            )
        elif isinstance(body, Issue):
            s = read_subject(body.credential)
            conn.execute(
                insert(certificates).values(
                    number=s.number,
                    idx=idx,
                    body=s.body,
                    manufacturer=s.manufacturer,
                    product_type=s.product_type,
                    catalog=s.catalog,
                    product_name=s.product_name,
                    model=s.model,
                    version=s.version,
                    valid_from=s.valid_from,
                    valid_until=s.valid_until,
                    status_index=s.status_index,
                    previous=s.previous,
                    application=body.application,
                )
            )
        elif isinstance(body, Apply):
            conn.execute(
                insert(applications).values(
                    number=body.number,
                    idx=idx,
                    manufacturer=entry.envelope.org,
                    body=body.body,
                    product_type=body.productType,
                    catalog=body.catalog,
                    product_name=body.productName,
                    model=body.model,
                    version=body.version,
                    day=body.date,
                )
            )
        elif isinstance(body, LabReport):
            conn.execute(
                insert(lab_reports).values(
                    idx=idx,
                    application=body.application,
                    lab=entry.envelope.org,
                    day=body.date,
                    result=body.result,
                    sha256=body.report.sha256,
                )
            )
        elif isinstance(body, Change):
            # The certificate's current model and version, for search; the credential keeps
            # what was certified, and the event what changed.
            named = {"model": body.model, "version": body.version}
            changed = {k: v for k, v in named.items() if v is not None}
            conn.execute(
                update(certificates).where(certificates.c.number == body.number).values(changed)
            )
            conn.execute(
                insert(events).values(
                    idx=idx,
                    number=body.number,
                    kind="change",
                    day=body.date,
                    detail=json.dumps({**changed, "description": body.description}),
                )
            )
        elif isinstance(body, Surveil | Suspend | Reinstate | Revoke):
            kind = {Suspend: "suspend", Reinstate: "reinstate", Revoke: "revoke"}.get(
                type(body), f"surveil-{getattr(body, 'result', '')}"
            )
            detail = getattr(body, "reason", None) or getattr(body, "report", None)
            conn.execute(
                insert(events).values(
                    idx=idx, number=body.number, kind=kind, day=body.date, detail=detail
                )
            )
