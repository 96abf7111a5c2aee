"""Build the bodies of beef record types (EPCIS events with their hash ids).

Each function returns (record type, body) for `LedgerClient.submit` or `sign_envelope`; the
scenario, the tests and any integrating system use the same builders.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apps.beef import epcis, lottree
from apps.beef.identifiers import org_uri

Body = tuple[str, dict[str, Any]]


def now() -> str:
    return (
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{datetime.now(UTC).microsecond // 1000:03d}Z"
    )


def place(pid: str, name: str, city: str, country: str) -> dict[str, str]:
    return {"id": f"urn:sealchain:place:{pid}", "name": name, "city": city, "country": country}


def commission(
    packs: list[str], lot: dict[str, Any], at: dict[str, str], time: str, offset: str = "+10:00"
) -> Body:
    event = epcis.object_event(
        time=time,
        offset=offset,
        action="ADD",
        biz_step="commissioning",
        epcs=packs,
        read_point=at["id"],
        disposition="active",
        ilmd=lot,
    )
    return "beef.commission", {"event": event, "place": at}


def lot_commitment(commission: Body) -> Body:
    """beef.lot for a commission (as `commission` returns it): the same event without its
    epcList, the same place, and the packs as the root of their Merkle tree (lottree)."""
    _, body = commission
    packs = body["event"]["epcList"]
    event = {k: v for k, v in body["event"].items() if k != "epcList"}
    root = {"count": len(packs), "root": lottree.root_b64(packs)}
    return "beef.lot", {"event": event, "place": body["place"], "packs": root}


def aggregate(
    parent: str, children: list[str], at: dict[str, str], time: str, offset: str = "+10:00"
) -> Body:
    event = epcis.aggregation_event(
        time=time,
        offset=offset,
        action="ADD",
        parent=parent,
        children=children,
        biz_step="packing",
        read_point=at["id"],
    )
    return "beef.aggregate", {"event": event, "place": at}


def disaggregate(
    parent: str, children: list[str], at: dict[str, str], time: str, offset: str = "+08:00"
) -> Body:
    event = epcis.aggregation_event(
        time=time,
        offset=offset,
        action="DELETE",
        parent=parent,
        children=children,
        biz_step="unpacking",
        read_point=at["id"],
    )
    return "beef.disaggregate", {"event": event, "place": at}


def ship(
    objects: list[str],
    source: str,
    destination: str,
    at: dict[str, str],
    time: str,
    offset: str = "+10:00",
    certificates: list[dict[str, str]] | None = None,
) -> Body:
    certs = certificates or []
    event = epcis.object_event(
        time=time,
        offset=offset,
        action="OBSERVE",
        biz_step="shipping",
        epcs=objects,
        read_point=at["id"],
        disposition="in_transit",
        sources=[("owning_party", org_uri(source))],
        destinations=[("owning_party", org_uri(destination))],
        certification=[f"urn:sealchain:cert:{c['number']}" for c in certs] or None,
    )
    body: dict[str, Any] = {"event": event, "place": at}
    if certs:
        body["certificates"] = certs
    return "beef.ship", body


def receive(
    objects: list[str], source: str, at: dict[str, str], time: str, offset: str = "+08:00"
) -> Body:
    event = epcis.object_event(
        time=time,
        offset=offset,
        action="OBSERVE",
        biz_step="receiving",
        epcs=objects,
        read_point=at["id"],
        disposition="in_progress",
        sources=[("owning_party", org_uri(source))],
    )
    return "beef.receive", {"event": event, "place": at}


def sensor(
    objects: list[str],
    readings: list[tuple[str, float]],
    at: dict[str, str],
    time: str,
    offset: str = "+10:00",
) -> Body:
    event = epcis.object_event(
        time=time,
        offset=offset,
        action="OBSERVE",
        biz_step="sensor_reporting",
        epcs=objects,
        read_point=at["id"],
        sensors=epcis.temperature_report(readings),
    )
    return "beef.sensor", {"event": event, "place": at}


def inspect(
    objects: list[str],
    certificate: str,
    conformant: bool,
    decision: str,
    at: dict[str, str],
    time: str,
    note: str = "",
    offset: str = "+08:00",
) -> Body:
    event = epcis.object_event(
        time=time,
        offset=offset,
        action="OBSERVE",
        biz_step="inspecting",
        epcs=objects,
        read_point=at["id"],
        disposition="conformant" if conformant else "non_conformant",
    )
    customs = {"healthCertificate": certificate, "conformant": conformant, "decision": decision}
    if note:
        customs["note"] = note
    return "beef.inspect", {"event": event, "place": at, "customs": customs}


def sell(packs: list[str], at: dict[str, str], time: str, offset: str = "+08:00") -> Body:
    event = epcis.object_event(
        time=time,
        offset=offset,
        action="OBSERVE",
        biz_step="retail_selling",
        epcs=packs,
        read_point=at["id"],
        disposition="retail_sold",
    )
    return "beef.sell", {"event": event, "place": at}


def recall(
    gtin: str, lot: str, reason: str, at: dict[str, str], time: str, offset: str = "+08:00"
) -> Body:
    event = epcis.object_event(
        time=time,
        offset=offset,
        action="OBSERVE",
        biz_step="holding",
        epcs=[],
        read_point=at["id"],
        disposition="recalled",
        quantities=[{"epcClass": f"https://id.gs1.org/01/{gtin}/10/{lot}", "quantity": 1}],
    )
    return "beef.recall", {"event": event, "place": at, "gtin": gtin, "lot": lot, "reason": reason}


def correct(event_id: str, note: str, time: str, corrective: list[str] | None = None) -> Body:
    return "beef.correct", {
        "eventID": event_id,
        "declarationTime": time,
        "reason": "incorrect_data",
        "correctiveEventIDs": corrective or [],
        "note": note,
    }
