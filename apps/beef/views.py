"""The scan route's JSON answer: the server's own reading of its projection, beside the proof
bundle a client verifies it with (`sealchain scan` derives every fact from the bundle and
trusts none of the rest; the scan page shows only what its script derives)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from apps.beef import state
from apps.beef.coldchain import ColdChain
from apps.beef.identifiers import PackId
from apps.beef.journey import LotProof
from ledger.plugin import Member

RETAILER = "beef.retailer"


def subject(pack: PackId, cold_chain: ColdChain, lot_proof: LotProof = None) -> dict[str, Any]:
    """What the scan page's script binds every entry to, and judges readings with; with the
    pack's path in its committed lot's tree (journey.LotProof), if the bundle has the lot's
    commitment in place of its commissioning."""
    identity = {"uri": pack.uri(), "gtin": pack.gtin, "lot": pack.lot, "serial": pack.serial}
    return {
        "pack": {**identity, "lotProof": lot_proof},
        "coldChain": {
            "low": cold_chain.low,
            "high": cold_chain.high,
            "alarmAbove": cold_chain.alarm_above,
        },
    }


def status(obj: state.Obj, lot: dict[str, Any], members: Mapping[str, Member]) -> tuple[str, str]:
    """The banner as the projection has it: recalled, sold, held, in transit, on sale, or
    elsewhere in the supply chain."""
    if lot["recalled_idx"] is not None:
        return (
            "recalled",
            f"Recalled: {lot['recall_reason']}. Do not eat it; return it to the store.",
        )
    if obj.sold_idx is not None:
        return "sold", "Sold to a consumer."
    if obj.held:  # a customs hold is written on everything inside the held object
        return "held", "Held by customs at the port of entry: not released for sale."
    if obj.in_transit_to is not None:
        return "in_transit", f"In transit to {obj.in_transit_to}."
    member = members.get(obj.holder)
    if member is not None and RETAILER in member.roles:
        return "on_sale", f"On sale at {member.name}."
    return "in_supply_chain", f"In the supply chain, held by {obj.holder}."


def server_view(
    conn: Connection,
    obj: state.Obj,
    lot: dict[str, Any],
    events: list[Any],
    members: Mapping[str, Member],
) -> dict[str, Any]:
    """The projection's facts about a pack (the server's statement, not verified): `events`
    as state.pack_events reads them; `members` by org name the parties (Ledger.members: the
    process's snapshot, not read per scan)."""
    status_code, message = status(obj, lot, members)
    temps, certs = state.pack_facts(conn, obj.uri)
    return {
        "status": status_code,
        "message": message,
        "product": lot["data"],
        "journey": [
            {
                "index": r.idx,
                "tx_id": r.tx_id,
                "event_id": r.event_id,
                "type": r.record_type,
                "time": r.event_time,
                "place": json.loads(r.place),
                "org": r.org,
                "party": members[r.org].name if r.org in members else r.org,
                "step": r.summary,
                "corrected": r.correction_note,
            }
            for r in events
        ],
        "temperatures": [{"time": t.time, "value": t.value, "status": t.status} for t in temps],
        "certificates": [{"kind": c.kind, "number": c.number, "issuer": c.issuer} for c in certs],
    }
