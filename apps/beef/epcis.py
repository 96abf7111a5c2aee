"""EPCIS 2.0 events as JSON, identified by their CBV 2.0 event hash.

The hash comes from `epcis-event-hash-generator` (the GS1 reference algorithm): the event's
canonical pre-hash string, SHA-256, as `ni:///sha-256;<hex>?ver=CBV2.0`. It is computed without
`eventID` and `errorDeclaration`, so an error declaration names the event it corrects by the
same id.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from epcis_event_hash_generator import hash_generator
from epcis_event_hash_generator.json_to_py import event_list_from_epcis_document_json

from ledger.core.canonical import canonical_bytes

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

# The generator logs every pre-hash string at INFO; that is noise in a server's log.
logging.getLogger("epcis_event_hash_generator").setLevel(logging.WARNING)


def event_hash(event: dict[str, Any]) -> str:
    """CBV 2.0 event hash id of an EPCIS 2.0 JSON event."""
    # The generator's pre-hash depends on key order inside some fields, while the ledger stores
    # canonical JSON (sorted keys): hash the canonical form so builders and verifiers agree.
    canonical = json.loads(canonical_bytes(event))
    bare = {k: v for k, v in canonical.items() if k not in ("eventID", "errorDeclaration")}
    document = {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": bare.get("eventTime", "1970-01-01T00:00:00.000Z"),
        "epcisBody": {"eventList": [bare]},
    }
    events = event_list_from_epcis_document_json(document)
    (digest,) = hash_generator.epcis_hashes_from_events(events)
    return str(digest)


def with_id(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its eventID set to its hash."""
    return {**event, "eventID": event_hash(event)}


def object_event(
    *,
    time: str,
    offset: str,
    action: str,
    biz_step: str,
    epcs: list[str],
    read_point: str,
    disposition: str | None = None,
    sources: list[tuple[str, str]] = (),  # type: ignore[assignment]
    destinations: list[tuple[str, str]] = (),  # type: ignore[assignment]
    ilmd: dict[str, Any] | None = None,
    sensors: list[dict[str, Any]] | None = None,
    quantities: list[dict[str, Any]] | None = None,
    certification: list[str] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": time,
        "eventTimeZoneOffset": offset,
        "epcList": list(epcs),
        "action": action,
        "bizStep": biz_step,
        "readPoint": {"id": read_point},
    }
    if disposition:
        event["disposition"] = disposition
    if quantities:
        event["quantityList"] = quantities
    if sources:
        event["sourceList"] = [{"type": t, "source": s} for t, s in sources]
    if destinations:
        event["destinationList"] = [{"type": t, "destination": d} for t, d in destinations]
    if ilmd:
        event["ilmd"] = ilmd
    if sensors:
        event["sensorElementList"] = sensors
    if certification:
        event["certificationInfo"] = certification
    return with_id(event)


def aggregation_event(
    *,
    time: str,
    offset: str,
    action: str,
    parent: str,
    children: list[str],
    biz_step: str,
    read_point: str,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "AggregationEvent",
        "eventTime": time,
        "eventTimeZoneOffset": offset,
        "parentID": parent,
        "childEPCs": list(children),
        "action": action,
        "bizStep": biz_step,
        "readPoint": {"id": read_point},
    }
    return with_id(event)


def temperature_report(readings: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """A sensorElementList of timestamped temperature readings in degrees Celsius."""
    return [
        {
            "sensorMetadata": {"time": readings[0][0] if readings else ""},
            "sensorReport": [
                {"type": "Temperature", "time": t, "value": value, "uom": "CEL"}
                for t, value in readings
            ],
        }
    ]
