"""JSON views of registrations and certificates: the server's reading, each beside the receipt
it rests on, so a program can check every fact offline (`sealchain verify`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from apps.evidence import state
from apps.evidence.numbers import deposit_number
from ledger.plugin import Ledger, find_member


def registration_json(
    ledger: Ledger, conn: Connection, found: list[state.Registration]
) -> list[dict[str, Any]]:
    """Registrations, earliest first, each with its receipt and its registrant's name."""
    receipts = ledger.receipts(conn, [r.idx for r in found]) if found else []
    names: dict[str, str] = {}
    out = []
    for reg, receipt in zip(found, receipts, strict=True):
        if reg.org not in names:
            member = find_member(conn, reg.org)
            names[reg.org] = member.name if member is not None else reg.org
        out.append(
            {
                "number": deposit_number(reg.idx),
                "index": reg.idx,
                "kind": reg.kind,
                "org": reg.org,
                "registrant": names[reg.org],
                "title": reg.title,
                "category": reg.category,
                "time": reg.block_time,
                "tx_id": reg.tx_id,
                "receipt": receipt.to_json(),
            }
        )
    return out
