"""The certs projection: accreditations, certificates and their events, written in the block's
transaction and rebuilt identically by `sealchain reindex`."""

from __future__ import annotations

import json

from sqlalchemy import Connection, delete, insert

from apps.certs import rules
from apps.certs.models import Accredit, Issue, Reinstate, Revoke, Surveil, Suspend
from apps.certs.subject import read_subject
from apps.certs.tables import DERIVED, accreditations, certificates, events
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
