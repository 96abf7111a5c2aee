"""An evidence certificate: what the ledger proves about one deposit, in the order a court reads
it (docs/evidence.md). Every fact about the file comes from the signed entry in the receipt;
the rest (names, filing numbers, cases) is the ledger's reading of its governance and case
entries, each of which is signed too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from apps.evidence import state
from apps.evidence.numbers import deposit_number
from apps.evidence.settings import EvidenceSettings
from ledger.plugin import Ledger, NotFound, find_member, list_members, tr


def _member(conn: Connection, org: str) -> dict[str, Any]:
    member = find_member(conn, org)
    if member is None:
        return {"org": org, "name": org, "filing": ""}
    return {"org": org, "name": member.name, "filing": member.filing}


def certificate(
    ledger: Ledger, conn: Connection, idx: int, settings: EvidenceSettings
) -> dict[str, Any]:
    """The certificate of deposit `idx`; NotFound if it is no deposit."""
    found = state.registration(conn, idx)
    if found is None or found.kind != "deposit":
        raise NotFound(
            tr("%(number)s is not a deposit on this ledger.", number=deposit_number(idx))
        )
    (receipt,) = ledger.receipts(conn, [idx])
    body = receipt.entry["body"]
    cases = state.cases_with_deposit(conn, idx)
    platform = _member(conn, settings.platform)
    parties = {p for c in cases for p in c.parties}
    checkpoint_lines = receipt.checkpoint.split("\n")
    return {
        "number": deposit_number(idx),
        "depositor": _member(conn, found.org),
        "registered": found.block_time,
        "title": body["title"],
        "category": body["category"],
        "mediaType": body["mediaType"],
        "size": body["size"],
        "hashes": {"sha256": body["sha256"], "sha3_256": body.get("sha3_256")},
        "iscc": body.get("iscc"),
        "capture": body["capture"],
        "ledger": {
            "index": idx,
            "block": found.block_height,
            "tx_id": found.tx_id,
            "origin": checkpoint_lines[0],
            "tree_size": int(checkpoint_lines[1]),
            "root": checkpoint_lines[2],
            "checkpoint": receipt.checkpoint,
            "members": len(list_members(conn)),
        },
        "platform": {
            **platform,
            "independent": settings.platform not in parties,
            "cases": [{"case": c.case_no, "court": c.court} for c in cases],
        },
        "receipt": receipt.to_json(),
    }
