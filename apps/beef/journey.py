"""A pack's journey derived from signed entries alone: which entries are about the pack, and
what they say (product, steps, cold chain, certificates, status).

This is what `sealchain scan` shows after it has verified the entries, and the reference for
the scan page's script (site/static/scan.js), which derives the same facts in the browser:
tests hold the two to the same answers. Nothing here reads the projection tables, which an
operator could edit; an entry that is not about the pack is refused, never skipped.

An entry is about the pack when, at its place in the log, it names the pack or a carton or
container the pack is inside at that moment (aggregation events move the pack in and out), or
it recalls the pack's lot, or it corrects an event that is about the pack. A lot commitment
(`beef.lot`, which stands for its commissioning) is about the pack when the pack's path (the
scan's LotProof) leads from the pack's URI to the commitment's root.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.beef.coldchain import ColdChain
from apps.beef.identifiers import ORG_PREFIX, PackId, kind_of
from apps.beef.rules import short
from ledger.core import merkle
from ledger.core.keys import b64decode_strict
from ledger.plugin import LedgerError, VerificationError

RETAILER = "beef.retailer"
COMMISSIONING = ("beef.commission", "beef.lot")
# A pack's place in its committed lot's tree, as a scan carries it: {"index": leaf index,
# "path": [base64 hashes]} (lottree.path), or None when the lot is not committed.
LotProof = dict[str, Any] | None


class NotAboutThePack(VerificationError):
    code = "not-about-the-pack"
    title = "A signed entry is not about the scanned pack"


@dataclass(frozen=True)
class Party:
    name: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Step:
    index: int
    type: str
    org: str
    event_id: str
    time: str  # eventTime as signed
    offset: str  # eventTimeZoneOffset as signed
    place: Mapping[str, str]
    text: str  # in English; the page writes the same in the reader's language
    corrected: str | None = None


@dataclass(frozen=True)
class Reading:
    time: str
    value: float
    status: str  # ok, excursion, alarm (ColdChain)


@dataclass
class Journey:
    product: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    certificates: list[dict[str, str]] = field(default_factory=list)
    status: str = "in_supply_chain"
    message: str = ""


def _org(party_uri: str | None) -> str:
    return (party_uri or "").removeprefix(ORG_PREFIX)


def _named(event: Mapping[str, Any]) -> set[str]:
    named = set(event.get("epcList", [])) | set(event.get("childEPCs", []))
    if event.get("parentID"):
        named.add(event["parentID"])
    return named


class _Containment:
    """Where the pack is at each point of the log: the chain of cartons and containers around
    it, kept from the aggregation events that are about it."""

    def __init__(self, pack: str) -> None:
        self.pack = pack
        self.parent: dict[str, str] = {}

    def around(self) -> set[str]:
        chain, at = {self.pack}, self.pack
        while at in self.parent and self.parent[at] not in chain:
            at = self.parent[at]
            chain.add(at)
        return chain

    def apply(self, event: Mapping[str, Any]) -> None:
        if event.get("type") != "AggregationEvent":
            return
        parent, children = event["parentID"], list(event.get("childEPCs", []))
        if event.get("action") == "ADD":
            for child in children:
                self.parent[child] = parent
        else:  # DELETE: the named children, or all of them, leave the parent
            for child, holder in list(self.parent.items()):
                if holder == parent and (not children or child in children):
                    del self.parent[child]


def in_lot(body: Mapping[str, Any], pack: PackId, proof: LotProof) -> bool:
    """Whether `proof` leads from the pack's URI to the root of a lot commitment's `body`."""
    if not proof:
        return False
    try:
        merkle.verify_inclusion(
            proof["index"],
            body["packs"]["count"],
            merkle.leaf_hash(pack.uri().encode()),
            [b64decode_strict(p) for p in proof["path"]],
            b64decode_strict(body["packs"]["root"]),
        )
    except (LedgerError, KeyError, TypeError, ValueError):
        return False
    return True


def bind(
    entries: Sequence[tuple[int, Mapping[str, Any]]], pack: PackId, lot_proof: LotProof = None
) -> list[int]:
    """The indexes of `entries` (beef envelopes, in log order), each checked to be about `pack`;
    raises NotAboutThePack naming the first that is not, or if none commissions the pack."""
    where = _Containment(pack.uri())
    events: set[str] = set()
    commissioned = False
    bound: list[int] = []
    for index, entry in sorted(entries, key=lambda item: item[0]):
        body, kind = entry["body"], entry["type"]
        event = body.get("event", {})
        if kind == "beef.correct":
            about = body.get("eventID") in events
        elif kind == "beef.recall":
            about = (body.get("gtin"), body.get("lot")) == (pack.gtin, pack.lot)
        elif kind == "beef.commission":
            about = pack.uri() in event.get("epcList", [])
            commissioned = commissioned or about
        elif kind == "beef.lot":
            about = in_lot(body, pack, lot_proof)
            commissioned = commissioned or about
        else:
            about = kind.startswith("beef.") and bool(_named(event) & where.around())
        if not about or (not commissioned and kind not in COMMISSIONING):
            raise NotAboutThePack(f"signed entry {index} ({kind}) is not about this pack")
        where.apply(event)
        if event.get("eventID"):
            events.add(event["eventID"])
        bound.append(index)
    if not commissioned:
        raise NotAboutThePack("no signed entry commissions this pack")
    return bound


def derive(
    entries: Sequence[tuple[int, Mapping[str, Any]]],
    pack: PackId,
    parties: Mapping[str, Party],
    cold_chain: ColdChain | None = None,
    lot_proof: LotProof = None,
) -> Journey:
    """Everything the scan page shows, from verified entries, each bound to the pack (`bind`)."""
    cold_chain = cold_chain or ColdChain()
    ordered = sorted(entries, key=lambda item: item[0])
    bind(ordered, pack, lot_proof)
    commission = next(e for _, e in ordered if e["type"] in COMMISSIONING)
    journey = Journey(product=dict(commission["body"]["event"]["ilmd"]))
    name = _namer(parties)
    holder, in_transit_to, held, sold, recall = commission["org"], None, False, False, None
    steps: dict[str, Step] = {}
    for index, entry in ordered:
        body, kind, org = entry["body"], entry["type"], entry["org"]
        if kind == "beef.correct":
            step = steps[body["eventID"]]
            steps[body["eventID"]] = Step(**{**step.__dict__, "corrected": body["note"]})
            continue
        event = body["event"]
        if kind == "beef.ship":
            in_transit_to = _org(event["destinationList"][0].get("destination"))
            journey.certificates += [dict(c) for c in body.get("certificates", [])]
        elif kind == "beef.receive":
            holder, in_transit_to = org, None
        elif kind == "beef.sensor":
            journey.readings += [
                Reading(r["time"], r["value"], cold_chain.status(r["value"]))
                for element in event["sensorElementList"]
                for r in element["sensorReport"]
            ]
        elif kind == "beef.inspect":
            held = body["customs"]["decision"] == "hold"
        elif kind == "beef.sell":
            sold = True
        elif kind == "beef.recall":
            recall = body["reason"]
        steps[event["eventID"]] = Step(
            index=index,
            type=kind,
            org=org,
            event_id=event["eventID"],
            time=event["eventTime"],
            offset=event["eventTimeZoneOffset"],
            place=dict(body["place"]),
            text=_step_text(kind, body, journey.product, name),
        )
    journey.steps = sorted(steps.values(), key=lambda s: s.index)
    journey.readings.sort(key=lambda r: r.time)
    journey.status, journey.message = _status(
        recall, sold, held, in_transit_to, holder, parties, name
    )
    return journey


def _namer(parties: Mapping[str, Party]) -> Any:
    return lambda org: parties[org].name if org in parties else org


def _step_text(kind: str, body: Mapping[str, Any], product: Mapping[str, Any], name: Any) -> str:
    event = body["event"]
    if kind in COMMISSIONING:
        count = len(event["epcList"]) if kind == "beef.commission" else body["packs"]["count"]
        name, lot = product["productName"], product["lot"]
        return f"Packed and commissioned: {count} packs of {name}, lot {lot}"
    if kind in ("beef.aggregate", "beef.disaggregate"):
        verb = "Packed into" if kind == "beef.aggregate" else "Unpacked from"
        return f"{verb} {kind_of(event['parentID'])} {short(event['parentID'])}"
    if kind == "beef.ship":
        return f"Shipped to {name(_org(event['destinationList'][0].get('destination')))}"
    if kind == "beef.receive":
        return f"Received from {name(_org(event['sourceList'][0].get('source')))}"
    if kind == "beef.sensor":
        values = [r["value"] for e in event["sensorElementList"] for r in e["sensorReport"]]
        return f"Temperature log: {len(values)} readings, {min(values):.1f} to {max(values):.1f} °C"
    if kind == "beef.inspect":
        c = body["customs"]
        verdict = "conformant" if c["conformant"] else "non-conformant"
        decision = "released" if c["decision"] == "release" else "held"
        return (
            f"Customs inspection: {verdict}, {decision} "
            f"(health certificate {c['healthCertificate']})"
        )
    if kind == "beef.sell":
        return "Sold to a consumer"
    if kind == "beef.recall":
        return f"Lot recalled: {body['reason']}"
    return kind


def _status(
    recall: str | None,
    sold: bool,
    held: bool,
    in_transit_to: str | None,
    holder: str,
    parties: Mapping[str, Party],
    name: Any,
) -> tuple[str, str]:
    """The banner, in the order that matters to a shopper: recalled, sold, held, in transit, on
    sale, elsewhere in the chain."""
    if recall is not None:
        return "recalled", f"Recalled: {recall}. Do not eat it; return it to the store."
    if sold:
        return "sold", "Sold to a consumer."
    if held:
        return "held", "Held by customs at the port of entry: not released for sale."
    if in_transit_to is not None:
        return "in_transit", f"In transit to {name(in_transit_to)}."
    if holder in parties and RETAILER in parties[holder].roles:
        return "on_sale", f"On sale at {name(holder)}."
    return "in_supply_chain", f"In the supply chain, held by {name(holder)}."
