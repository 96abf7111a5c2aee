"""Custody rules (pipeline step 9): each refusal is a StateConflict saying why.

- only the party holding an object (a pack, or the carton/container it is in) may ship it;
- a receive must match a shipment addressed to the receiver;
- nothing but recall follows a sale;
- an object held by customs cannot be distributed (shipped, packed, sold);
- aggregation children must exist and be held by the aggregator;
- a recall marks every pack of the lot, wherever it is (see projection.apply);
- a lot commitment is its processor's restatement of the lot's own commissioning, with the
  lot's packs as their Merkle root, once per lot.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from apps.beef import lottree, state
from apps.beef.epcis import event_hash
from apps.beef.identifiers import IdentifierError, kind_of, lot_key, parse_pack_uri
from apps.beef.models import (
    Aggregate,
    Commission,
    Correction,
    Inspect,
    LotCommitment,
    Place,
    Recall,
    Receive,
    Sell,
    SensorReport,
    Ship,
)
from apps.beef.tables import URI_MAX, events, lot_trees, objects
from ledger.plugin import InvalidBody, SequencedEntry, StateConflict, find_member

SOLD = "pack {} was sold: nothing but a recall may follow a sale"
# Who may take custody (and so write beef.receive): shipments can only be addressed to them.
RECEIVING_ROLES = frozenset({"beef.exporter", "beef.carrier", "beef.importer", "beef.retailer"})


def short(uri: str) -> str:
    """A readable name for messages: the serial, SSCC or container number."""
    return uri.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _existing(conn: Connection, uri: str) -> state.Obj:
    found = state.get(conn, uri)
    if found is None:
        raise StateConflict(f"{kind_of(uri)} {short(uri)} was never commissioned or packed")
    return found


def _distributable(conn: Connection, uris: list[str], org: str, verb: str) -> list[state.Obj]:
    """The objects exist, `org` holds them, and nothing inside is in transit, held or sold."""
    found = [_existing(conn, uri) for uri in uris]
    inside = [state.get(conn, u) for u in state.descendants(conn, uris)]
    for obj in found:
        if obj.in_transit_to is not None:
            raise StateConflict(f"{obj.kind} {short(obj.uri)} is in transit to {obj.in_transit_to}")
        if obj.holder != org:
            raise StateConflict(
                f"{obj.kind} {short(obj.uri)} is held by {obj.holder}, not {org}: "
                f"only the holder may {verb} it"
            )
    for obj in [*found, *(o for o in inside if o is not None)]:
        if obj.held:
            raise StateConflict(
                f"{obj.kind} {short(obj.uri)} is held by customs: it cannot be distributed"
            )
        if obj.sold_idx is not None:
            raise StateConflict(SOLD.format(short(obj.uri)))
    return found


def check(conn: Connection, entry: SequencedEntry) -> None:
    body, org = entry.body, entry.envelope.org
    if isinstance(body, LotCommitment):
        _check_lot(conn, body, org, entry.envelope.body["event"])
        return
    event = getattr(body, "event", None)
    if event is not None:
        seen = conn.execute(select(events.c.idx).where(events.c.event_id == event.eventID)).first()
        if seen is not None:
            raise StateConflict(f"this EPCIS event is already on the ledger (entry {seen.idx})")
    if isinstance(body, Commission):
        _check_commission(conn, body)
    elif isinstance(body, Aggregate):
        _check_aggregate(conn, body, org)
    elif isinstance(body, Ship):
        _check_ship(conn, body, org)
    elif isinstance(body, Receive):
        _check_receive(conn, body, org)
    elif isinstance(body, SensorReport):
        for obj in (_existing(conn, u) for u in body.event.epcList):
            if org not in (obj.holder, obj.in_transit_to):
                raise StateConflict(f"{org} neither holds nor receives {obj.kind} {short(obj.uri)}")
    elif isinstance(body, Inspect):
        for uri in body.event.epcList:
            obj = _existing(conn, uri)
            if obj.sold_idx is not None:
                raise StateConflict(SOLD.format(short(uri)))
    elif isinstance(body, Sell):
        _check_sell(conn, body, org)
    elif isinstance(body, Recall):
        found = state.lot(conn, lot_key(body.gtin, body.lot))
        if found is None:
            raise StateConflict(f"lot {body.lot} of GTIN {body.gtin} was never commissioned")
        if found["recalled_idx"] is not None:
            raise StateConflict(f"lot {body.lot} is already recalled")
        member = find_member(conn, org)
        is_regulator = member is not None and "beef.regulator" in member.roles
        if not is_regulator and found["processor"] != org:
            raise StateConflict(
                f"lot {body.lot} was packed by {found['processor']}: only it or a regulator "
                "may recall it"
            )
    elif isinstance(body, Correction):
        row = conn.execute(select(events).where(events.c.event_id == body.eventID)).first()
        if row is None:
            raise StateConflict("the event to correct is not on the ledger")
        if row.org != org:
            raise StateConflict(f"only {row.org}, who recorded the event, may correct it")
        if row.corrected_idx is not None:
            raise StateConflict("that event is already corrected")


def check_pack_uri(uri: str) -> None:
    """A pack is made only by its commissioning: so each must be a Digital Link that every scan
    parses back to the same URI (its serial in GS1 set 82, written as PackId writes it), short
    enough for the projection's columns. A serial with a space was once commissioned and then
    never scanned."""
    try:
        written = parse_pack_uri(uri).uri()
    except IdentifierError as err:
        raise InvalidBody(str(err)) from None
    if written != uri:
        raise InvalidBody(f"pack {uri[:120]!r} must be written as {written!r}")
    if len(uri) > URI_MAX:
        raise InvalidBody(
            f"pack {uri[:120]!r}... is {len(uri)} characters as a Digital Link, more than "
            f"{URI_MAX}: its lot and serial need fewer characters that are percent-encoded"
        )


def _check_commission(conn: Connection, body: Commission) -> None:
    for uri in body.event.epcList:
        check_pack_uri(uri)
    lot = body.lot
    if state.lot(conn, lot_key(lot.gtin, lot.lot)) is not None:
        raise StateConflict(f"lot {lot.lot} of GTIN {lot.gtin} is already commissioned")
    taken = conn.execute(select(objects.c.uri).where(objects.c.uri.in_(body.event.epcList))).first()
    if taken is not None:
        raise StateConflict(f"pack {short(taken.uri)} is already commissioned")


def _check_lot(conn: Connection, body: LotCommitment, org: str, signed: dict[str, object]) -> None:
    """The commitment restates the commissioning exactly: its event hashes, with the lot's packs
    put back as its epcList, to the commission's event id (the hash ignores list order); its
    root and count are those of the lot's packs; and its place is the commission's."""
    row = conn.execute(select(events).where(events.c.event_id == body.event.eventID)).first()
    if row is None or row.record_type != "beef.commission":
        raise StateConflict("the commissioning this lot commitment restates is not on the ledger")
    if row.org != org:
        raise StateConflict(f"only {row.org}, who commissioned the lot, may commit it")
    lot = body.lot
    key = lot_key(lot.gtin, lot.lot)
    if conn.execute(select(lot_trees.c.idx).where(lot_trees.c.lot_key == key)).first():
        raise StateConflict(f"lot {lot.lot} of GTIN {lot.gtin} is already committed")
    packs = state.lot_uris(conn, key)
    if body.packs.count != len(packs) or body.packs.root != lottree.root_b64(packs):
        raise StateConflict(
            f"the root is not the Merkle root of the {len(packs)} packs of lot {lot.lot}"
        )
    if event_hash({**signed, "epcList": packs}) != body.event.eventID:
        raise StateConflict(
            "the event is not the commissioning's own: only its epcList may be left out"
        )
    if Place.model_validate_json(row.place) != body.place:
        raise StateConflict("the place is not the commissioning's")


def _check_aggregate(conn: Connection, body: Aggregate, org: str) -> None:
    event = body.event
    parent_uri = event.parentID
    assert parent_uri is not None
    parent = state.get(conn, parent_uri)
    if event.action == "DELETE":
        if parent is None:
            raise StateConflict(f"{kind_of(parent_uri)} {short(parent_uri)} does not exist")
        _distributable(conn, [parent_uri], org, "unpack")
        inside = set(state.children(conn, parent_uri))
        for uri in event.childEPCs:
            if uri not in inside:
                raise StateConflict(f"{short(uri)} is not inside {short(parent_uri)}")
        return
    if parent is not None:
        _distributable(conn, [parent_uri], org, "pack")
    allowed = {"carton": {"pack"}, "container": {"pack", "carton"}}[kind_of(parent_uri)]
    for child in _distributable(conn, list(event.childEPCs), org, "pack"):
        if child.kind not in allowed:
            raise StateConflict(f"a {kind_of(parent_uri)} cannot hold a {child.kind}")
        if child.parent is not None and child.parent != parent_uri:
            raise StateConflict(
                f"{child.kind} {short(child.uri)} is already inside {short(child.parent)}"
            )
        if child.kind == "pack":
            lot_row = state.lot(conn, child.lot_key or "")
            if lot_row is not None and lot_row["recalled_idx"] is not None:
                raise StateConflict(f"pack {short(child.uri)} is of a recalled lot")


def _check_ship(conn: Connection, body: Ship, org: str) -> None:
    event = body.event
    (source,) = event.parties("source")
    (destination,) = event.parties("destination")
    if source != org:
        raise StateConflict(f"the shipment's source party is {source}, but {org} signed it")
    if destination == org:
        raise StateConflict("a shipment must go to another party")
    member = find_member(conn, destination)
    if member is None or not member.active or RECEIVING_ROLES.isdisjoint(member.roles):
        raise StateConflict(
            f"{destination} is not a party of the beef chain that may receive goods"
        )
    for obj in _distributable(conn, list(event.epcList), org, "ship"):
        if obj.parent is not None:
            raise StateConflict(
                f"{obj.kind} {short(obj.uri)} is inside {short(obj.parent)}: "
                "ship that, or unpack it first"
            )


def _check_receive(conn: Connection, body: Receive, org: str) -> None:
    (source,) = body.event.parties("source")
    for uri in body.event.epcList:
        obj = _existing(conn, uri)
        if obj.parent is not None and obj.parent not in body.event.epcList:
            raise StateConflict(
                f"{obj.kind} {short(uri)} is inside {short(obj.parent)}: receive that"
            )
        if obj.in_transit_to != org:
            raise StateConflict(f"no shipment of {obj.kind} {short(uri)} is addressed to {org}")
        if obj.holder != source:
            raise StateConflict(
                f"{obj.kind} {short(uri)} was shipped by {obj.holder}, not {source}"
            )


def _check_sell(conn: Connection, body: Sell, org: str) -> None:
    for obj in _distributable(conn, list(body.event.epcList), org, "sell"):
        lot_row = state.lot(conn, obj.lot_key or "")
        if lot_row is not None and lot_row["recalled_idx"] is not None:
            raise StateConflict(
                f"pack {short(obj.uri)} is of recalled lot {lot_row['lot']}: it cannot be sold"
            )
