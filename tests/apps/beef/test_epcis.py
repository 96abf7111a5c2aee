"""EPCIS 2.0 events and their CBV 2.0 event hash ids (the GS1 reference algorithm)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from apps.beef import epcis

PACKS = [
    "https://id.gs1.org/01/09312345000012/10/L2611/21/0001",
    "https://id.gs1.org/01/09312345000012/10/L2611/21/0002",
]
CARTON = "https://id.gs1.org/00/193123450000000019"
EVENT_ID = re.compile(r"^ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0$")


def commissioning() -> dict[str, Any]:
    return epcis.object_event(
        time="2026-11-01T08:30:00.000Z",
        offset="+10:00",
        action="ADD",
        biz_step="commissioning",
        epcs=PACKS,
        read_point="urn:sealchain:place:qld-meatworks",
        disposition="active",
        ilmd={"gtin": "09312345000012", "lot": "L2611", "cut": "striploin", "netWeightKg": 1.25},
    )


def shipping() -> dict[str, Any]:
    return epcis.object_event(
        time="2026-11-03T02:00:00.000Z",
        offset="+10:00",
        action="OBSERVE",
        biz_step="shipping",
        epcs=[CARTON],
        read_point="urn:sealchain:place:port-brisbane",
        disposition="in_transit",
        sources=[("owning_party", "urn:sealchain:org:au-exporter")],
        destinations=[("owning_party", "urn:sealchain:org:reefer-line")],
        certification=["urn:sealchain:cert:AU-EHC-2026-0001"],
        sensors=epcis.temperature_report([("2026-11-03T01:00:00.000Z", -1.5)]),
        quantities=[{"epcClass": "https://id.gs1.org/01/09312345000012/10/L2611", "quantity": 2}],
    )


def packing() -> dict[str, Any]:
    return epcis.aggregation_event(
        time="2026-11-01T09:00:00.000Z",
        offset="+10:00",
        action="ADD",
        parent=CARTON,
        children=PACKS[:1],
        biz_step="packing",
        read_point="urn:sealchain:place:qld-meatworks",
    )


def reversed_keys(value: Any) -> Any:
    """The same JSON with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def test_known_answer() -> None:
    """Pinned once: a change in the library, the canonical form or the builders shows up here."""
    assert commissioning()["eventID"] == (
        "ni:///sha-256;8b7e255abc37c7a33b67b1634d22e29d0ae535c2c9badbb9bc193dac6e9a7758?ver=CBV2.0"
    )
    assert packing()["eventID"] == (
        "ni:///sha-256;fc3b59e869dfc7fb37e1529202d61f1821ba25c70b8b8cf276e65a376215c94b?ver=CBV2.0"
    )


@pytest.mark.parametrize("make", [commissioning, shipping, packing])
def test_event_id_format(make: Any) -> None:
    event = make()
    assert EVENT_ID.match(event["eventID"])
    assert event["eventID"] == epcis.event_hash(event)


@pytest.mark.parametrize("make", [commissioning, shipping, packing])
def test_hash_is_stable_under_key_order(make: Any) -> None:
    event = make()
    sorted_trip = json.loads(json.dumps(event, sort_keys=True))
    assert epcis.event_hash(sorted_trip) == event["eventID"]
    assert epcis.event_hash(reversed_keys(event)) == event["eventID"]
    assert epcis.event_hash(json.loads(json.dumps(event, indent=2))) == event["eventID"]


def test_hash_ignores_the_order_of_epcs() -> None:
    """The CBV 2.0 pre-hash sorts list values: the same set of packs is the same event."""
    event = commissioning()
    assert epcis.event_hash({**event, "epcList": list(reversed(PACKS))}) == event["eventID"]


def test_hash_leaves_out_event_id_and_error_declaration() -> None:
    event = shipping()
    bare = {k: v for k, v in event.items() if k != "eventID"}
    assert epcis.event_hash(bare) == event["eventID"]
    declared = {
        **event,
        "errorDeclaration": {"declarationTime": "2026-11-04T00:00:00.000Z", "reason": "x"},
    }
    assert epcis.event_hash(declared) == event["eventID"]
    assert epcis.event_hash({**event, "eventID": "anything"}) == event["eventID"]
    assert epcis.with_id(event) == event  # idempotent


CHANGES: list[tuple[str, Any]] = [
    ("eventTime", "2026-11-03T02:00:00.001Z"),
    ("eventTimeZoneOffset", "+08:00"),
    ("action", "ADD"),
    ("bizStep", "receiving"),
    ("disposition", "in_progress"),
    ("readPoint", {"id": "urn:sealchain:place:port-yangshan"}),
    ("epcList", [CARTON, PACKS[0]]),
    ("epcList", [PACKS[0]]),
    ("sourceList", [{"type": "owning_party", "source": "urn:sealchain:org:au-meatworks"}]),
    ("destinationList", [{"type": "owning_party", "destination": "urn:sealchain:org:samr"}]),
    ("destinationList", [{"type": "location", "destination": "urn:sealchain:org:reefer-line"}]),
    ("certificationInfo", ["urn:sealchain:cert:FORGED"]),
    (
        "quantityList",
        [{"epcClass": "https://id.gs1.org/01/09312345000012/10/L2611", "quantity": 3}],
    ),
    ("ilmd", {"lot": "L2612"}),
]


@pytest.mark.parametrize(
    ("field", "value"), CHANGES, ids=[f"{f}-{i}" for i, (f, _) in enumerate(CHANGES)]
)
def test_hash_changes_when_any_field_changes(field: str, value: Any) -> None:
    event = shipping()
    assert epcis.event_hash({**event, field: value}) != event["eventID"]


@pytest.mark.parametrize("reading", [-1.4, -1.50001, 4.1])
def test_hash_changes_when_a_temperature_reading_changes(reading: float) -> None:
    event = shipping()
    changed = copy.deepcopy(event)
    changed["sensorElementList"][0]["sensorReport"][0]["value"] = reading
    assert epcis.event_hash(changed) != event["eventID"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("parentID", "https://id.gs1.org/00/193123450000000026"),
        ("childEPCs", PACKS),
        ("action", "DELETE"),
    ],
)
def test_aggregation_hash_changes_with_parent_and_children(field: str, value: Any) -> None:
    event = packing()
    assert epcis.event_hash({**event, field: value}) != event["eventID"]


def test_ilmd_values_are_committed_to() -> None:
    event = commissioning()
    heavier = copy.deepcopy(event)
    heavier["ilmd"]["netWeightKg"] = 1.3
    assert epcis.event_hash(heavier) != event["eventID"]


def test_temperature_report_shape() -> None:
    report = epcis.temperature_report([("2026-11-03T01:00:00.000Z", -1.5), ("t2", 0.5)])
    assert report == [
        {
            "sensorMetadata": {"time": "2026-11-03T01:00:00.000Z"},
            "sensorReport": [
                {
                    "type": "Temperature",
                    "time": "2026-11-03T01:00:00.000Z",
                    "value": -1.5,
                    "uom": "CEL",
                },
                {"type": "Temperature", "time": "t2", "value": 0.5, "uom": "CEL"},
            ],
        }
    ]
