"""The beef custody rules (issue 4): every mistake or fraud they stop, and what they record.

Each refusal is a `state-conflict` with a sentence saying why and leaves the ledger as it was;
role and body refusals come from the pipeline before the rules. Then the projection: custody,
holds, sales, recalls, temperatures, certificates and corrections, and a whole supply chain that
audits clean and reindexes to the very same tables.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError

from apps.beef import builders, lottree, rules, state
from apps.beef.epcis import with_id
from apps.beef.identifiers import pack_id
from apps.beef.scans import ScanCounter
from apps.beef.tables import (
    certificates,
    event_objects,
    events,
    lots,
    metadata,
    objects,
    readings,
    scan_sources,
    shipments,
)
from ledger.core import merkle
from ledger.core.envelope import sign_envelope
from ledger.core.keys import Signer
from ledger.service.audit import audit
from ledger.service.reindex import reindex
from ledger.service.sequencer import Accepted
from ledger.storage.engine import read_transaction, write_transaction
from ledger.storage.repository import Repository
from tests.support.beef import (
    GTIN,
    MEATWORKS,
    PORT_AU,
    PORT_CN,
    STORE_A,
    WAREHOUSE,
    BeefWorld,
    lot_data,
)

MEAT, EXPORTER, CARRIER = "au-meatworks", "au-exporter", "reefer-line"
CUSTOMS, IMPORTER, RETAIL_A, RETAIL_B = "gacc-shanghai", "sh-importer", "retail-a", "retail-b"
REGULATOR = "samr"
STORE_B = builders.place("store-b", "Retailer B, Xuhui", "Shanghai", "CN")
VESSEL = builders.place("reefer-vessel", "Reefer vessel, Coral Sea", "At sea", "AU")
Record = tuple[str, dict[str, Any]]

_ticks = itertools.count()
_T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def at() -> str:
    """A fresh event time (one second later each call), so no two events hash alike."""
    return (_T0 + timedelta(seconds=next(_ticks))).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def size(world: BeefWorld) -> int:
    with read_transaction(world.node.engine) as conn:
        return Repository(conn).tree_size()


def refuse(
    world: BeefWorld, org: str, record: Record, because: str, code: str = "state-conflict"
) -> str:
    """`org` submitting `record` is refused with `code`, for `because`; nothing is written."""
    before = size(world)
    detail = world.refused(org, record, code)
    assert because in detail, detail
    assert size(world) == before
    return detail


def obj(world: BeefWorld, uri: str) -> state.Obj:
    with read_transaction(world.node.engine) as conn:
        found = state.get(conn, uri)
    assert found is not None, uri
    return found


def lot_row(world: BeefWorld) -> dict[str, object]:
    with read_transaction(world.node.engine) as conn:
        found = state.lot(conn, f"https://id.gs1.org/01/{GTIN}/10/{world.lot}")
    assert found is not None
    return found


def rows(world: BeefWorld, table: Table, **where: object) -> list[Any]:
    query = select(table).order_by(*table.primary_key)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with read_transaction(world.node.engine) as conn:
        return list(conn.execute(query).all())


def journey(world: BeefWorld, event_id: str) -> set[str]:
    """The objects whose journey shows the event (beef_event_objects)."""
    return {r.uri for r in rows(world, event_objects, event_id=event_id)}


def eid(record: Record) -> str:
    return str(record[1]["event"]["eventID"])


def move(
    world: BeefWorld,
    objects: list[str],
    source: str,
    destination: str,
    start: dict[str, str] = MEATWORKS,
    end: dict[str, str] = WAREHOUSE,
) -> tuple[Accepted, Accepted]:
    """Ship `objects` from `source` to `destination`, who receives them."""
    shipped = world.ok(source, builders.ship(objects, source, destination, start, at()))
    received = world.ok(destination, builders.receive(objects, source, end, at()))
    return shipped, received


def cartons(world: BeefWorld) -> tuple[list[str], str, str]:
    """Six packs at the meatworks, three in carton 1 and three in carton 2."""
    packs = world.commission(6)
    first, second = world.carton(1), world.carton(2)
    world.ok(MEAT, builders.aggregate(first, packs[:3], MEATWORKS, at()))
    world.ok(MEAT, builders.aggregate(second, packs[3:], MEATWORKS, at()))
    return packs, first, second


def loaded_container(world: BeefWorld) -> tuple[list[str], list[str], str]:
    """Packs in two cartons in a reefer container, all at the meatworks."""
    packs, first, second = cartons(world)
    box = world.container(0)
    world.ok(MEAT, builders.aggregate(box, [first, second], MEATWORKS, at()))
    return packs, [first, second], box


def other_lot(lot: str, serials: range = range(1, 3)) -> list[str]:
    return [pack_id(GTIN, lot, f"{i:04d}").uri() for i in serials]


# --- commissioning -----------------------------------------------------------------------------


def test_cannot_commission_a_lot_twice(world: BeefWorld) -> None:
    packs = world.commission(3)
    again = builders.commission(packs, lot_data(world.lot), MEATWORKS, at())
    refuse(world, MEAT, again, f"lot {world.lot} of GTIN {GTIN} is already commissioned")
    more = other_lot(world.lot, range(7, 9))  # new serials cannot sneak into a commissioned lot
    refuse(world, MEAT, builders.commission(more, lot_data(world.lot), MEATWORKS, at()), "already")


# --- lot commitments (beef.lot) -------------------------------------------------------------------


def _commission(world: BeefWorld, count: int = 5) -> tuple[str, dict[str, Any]]:
    world.packs = other_lot(world.lot, range(1, count + 1))
    commissioned = builders.commission(world.packs, lot_data(world.lot), MEATWORKS, at())
    world.ok(MEAT, commissioned)
    return commissioned


def _changed(record: Record, change: Callable[[dict[str, Any]], None]) -> Record:
    body = json.loads(json.dumps(record[1]))
    change(body)
    return record[0], body


def test_a_lot_commitment_restates_the_commissioning_with_its_packs_root(world: BeefWorld) -> None:
    commissioned = _commission(world)
    committed = builders.lot_commitment(commissioned)
    outcome = world.ok(MEAT, committed)
    with read_transaction(world.node.engine) as conn:
        found = state.pack_and_lot(conn, world.packs[3])
    assert found is not None
    tree = found[2]
    assert tree is not None and (tree.idx, tree.packs) == (outcome.index, 5)
    ordered = sorted(world.packs)
    for uri in world.packs:
        at_ = lottree.position(tree.tree, tree.packs, uri)
        assert at_ == ordered.index(uri)
        merkle.verify_inclusion(
            at_,
            5,
            merkle.leaf_hash(uri.encode()),
            lottree.path(tree.tree, 5, at_),
            base64.b64decode(committed[1]["packs"]["root"]),
        )
    assert lottree.position(tree.tree, tree.packs, other_lot("OTHER", range(1, 2))[0]) is None
    refuse(world, MEAT, committed, f"lot {world.lot} of GTIN {GTIN} is already committed")


@pytest.mark.parametrize(
    ("change", "because"),
    [
        (lambda b: b["packs"].update(count=4), "is not the Merkle root of the 5 packs"),
        (
            lambda b: b["packs"].update(root=lottree.root_b64(other_lot("L2611", range(2, 7)))),
            "is not the Merkle root of the 5 packs",
        ),
        (lambda b: b["event"].update(eventTime=at()), "is not the commissioning's own"),
        (
            lambda b: b["event"]["ilmd"].update(origin="Hokkaido, Japan"),
            "is not the commissioning's own",
        ),
        (lambda b: b["place"].update(name="Another works"), "the place is not the commissioning's"),
        (
            lambda b: b["event"].update(eventID="ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"),
            "is not on the ledger",
        ),
    ],
)
def test_a_lot_commitment_that_is_not_the_commissioning_is_refused(
    world: BeefWorld, change: Callable[[dict[str, Any]], None], because: str
) -> None:
    commissioned = _commission(world)
    refuse(world, MEAT, _changed(builders.lot_commitment(commissioned), change), because)


def test_only_the_processor_who_commissioned_a_lot_may_commit_it(world: BeefWorld) -> None:
    commissioned = _commission(world)
    detail = "may not write beef.lot"
    refuse(world, REGULATOR, builders.lot_commitment(commissioned), detail, code="forbidden-role")


def test_a_lot_commitment_carries_no_list_of_packs(world: BeefWorld) -> None:
    commissioned = _commission(world)
    listed = _changed(
        builders.lot_commitment(commissioned),
        lambda b: b["event"].update(epcList=commissioned[1]["event"]["epcList"]),
    )
    refuse(world, MEAT, listed, "packs as a root only", code="invalid-body")


# --- shipping ----------------------------------------------------------------------------------


def test_only_the_holder_may_ship(world: BeefWorld) -> None:
    packs = world.commission(3)
    theft = builders.ship(packs[:1], EXPORTER, CARRIER, PORT_AU, at())
    refuse(world, EXPORTER, theft, "pack 0001 is held by au-meatworks, not au-exporter")
    refuse(world, EXPORTER, theft, "only the holder may ship it")


def test_shipment_source_must_be_the_signer(world: BeefWorld) -> None:
    packs = world.commission(3)
    forged = builders.ship(packs, EXPORTER, CARRIER, MEATWORKS, at())
    refuse(
        world,
        MEAT,
        forged,
        "the shipment's source party is au-exporter, but au-meatworks signed it",
    )


def test_cannot_ship_to_oneself(world: BeefWorld) -> None:
    packs = world.commission(2)
    refuse(
        world,
        MEAT,
        builders.ship(packs, MEAT, MEAT, MEATWORKS, at()),
        "a shipment must go to another party",
    )


def test_cannot_ship_to_a_non_member(world: BeefWorld) -> None:
    packs = world.commission(2)
    refuse(
        world,
        MEAT,
        builders.ship(packs, MEAT, "grey-market-co", MEATWORKS, at()),
        "grey-market-co is not a party of the beef chain that may receive goods",
    )


def test_cannot_ship_to_a_member_outside_the_beef_chain(world: BeefWorld) -> None:
    packs = world.commission(2)
    refuse(
        world,
        MEAT,
        builders.ship(packs, MEAT, "hz-notary", MEATWORKS, at()),
        "hz-notary is not a party of the beef chain that may receive goods",
    )


@pytest.mark.parametrize("party", [REGULATOR, CUSTOMS, MEAT])
def test_cannot_ship_to_a_party_that_may_not_receive(world: BeefWorld, party: str) -> None:
    """The regulator, customs and the meatworks may not write beef.receive: goods sent to them
    would stay in transit for ever and the sender could never ship them again."""
    packs = world.commission(2)
    move(world, packs, MEAT, EXPORTER)
    refuse(
        world,
        EXPORTER,
        builders.ship(packs, EXPORTER, party, PORT_AU, at()),
        f"{party} is not a party of the beef chain that may receive goods",
    )
    assert obj(world, packs[0]).in_transit_to is None


def test_cannot_ship_to_a_deactivated_member(world: BeefWorld) -> None:
    """A member the consortium deactivated can no longer sign a receive."""
    packs = world.commission(2)
    world.ok("cac-registry", ("ledger.member.update", {"org": RETAIL_B, "active": False}))
    refuse(
        world,
        MEAT,
        builders.ship(packs, MEAT, RETAIL_B, MEATWORKS, at()),
        "retail-b is not a party of the beef chain that may receive goods",
    )


def test_cannot_ship_what_is_already_in_transit(world: BeefWorld) -> None:
    packs = world.commission(2)
    world.ok(MEAT, builders.ship(packs, MEAT, EXPORTER, MEATWORKS, at()))
    refuse(
        world,
        MEAT,
        builders.ship(packs, MEAT, CARRIER, MEATWORKS, at()),
        "pack 0001 is in transit to au-exporter",
    )


def test_pack_inside_a_carton_cannot_be_shipped_alone(world: BeefWorld) -> None:
    packs, first, _ = cartons(world)
    refuse(
        world,
        MEAT,
        builders.ship(packs[:1], MEAT, EXPORTER, MEATWORKS, at()),
        f"pack 0001 is inside {first.rsplit('/', 1)[-1]}: ship that, or unpack it first",
    )


def test_carton_inside_a_container_cannot_be_shipped_alone(world: BeefWorld) -> None:
    _, (first, _), _ = loaded_container(world)
    refuse(
        world,
        MEAT,
        builders.ship([first], MEAT, EXPORTER, MEATWORKS, at()),
        "is inside CSQU3054383: ship that, or unpack it first",
    )


def test_cannot_ship_a_counterfeit_code(world: BeefWorld) -> None:
    world.commission(2)
    fake = other_lot("FAKE1")
    refuse(
        world,
        MEAT,
        builders.ship(fake, MEAT, EXPORTER, MEATWORKS, at()),
        "pack 0001 was never commissioned or packed",
    )


# --- receiving ---------------------------------------------------------------------------------


def test_receive_must_match_a_shipment_to_the_receiver(world: BeefWorld) -> None:
    packs = world.commission(2)
    world.ok(MEAT, builders.ship(packs, MEAT, EXPORTER, MEATWORKS, at()))
    refuse(
        world,
        CARRIER,
        builders.receive(packs, MEAT, PORT_AU, at()),
        "no shipment of pack 0001 is addressed to reefer-line",
    )


def test_cannot_receive_what_was_never_shipped(world: BeefWorld) -> None:
    packs = world.commission(2)
    refuse(
        world,
        EXPORTER,
        builders.receive(packs, MEAT, PORT_AU, at()),
        "no shipment of pack 0001 is addressed to au-exporter",
    )


def test_receive_must_name_the_real_shipper(world: BeefWorld) -> None:
    packs = world.commission(2)
    world.ok(MEAT, builders.ship(packs, MEAT, EXPORTER, MEATWORKS, at()))
    refuse(
        world,
        EXPORTER,
        builders.receive(packs, CARRIER, PORT_AU, at()),
        "pack 0001 was shipped by au-meatworks, not reefer-line",
    )


def test_cannot_receive_the_same_shipment_twice(world: BeefWorld) -> None:
    packs = world.commission(2)
    move(world, packs, MEAT, EXPORTER)
    refuse(
        world,
        EXPORTER,
        builders.receive(packs, MEAT, PORT_AU, at()),
        "no shipment of pack 0001 is addressed to au-exporter",
    )


def test_pack_inside_a_shipped_carton_cannot_be_received_alone(world: BeefWorld) -> None:
    """BUG: receiving one pack out of a carton still in transit is accepted and splits custody:
    the pack is then held by the receiver while its carton is held by the shipper and in transit
    (and a retailer could sell it before the carton arrives)."""
    packs, first, _ = cartons(world)
    world.ok(MEAT, builders.ship([first], MEAT, EXPORTER, MEATWORKS, at()))
    before = size(world)
    outcome = world.do(EXPORTER, builders.receive(packs[:1], MEAT, PORT_AU, at()))
    assert not isinstance(outcome, Accepted), (
        f"accepted: now {obj(world, packs[0])} is inside {obj(world, first)}"
    )
    assert outcome.code == "state-conflict" and "is inside" in outcome.detail, outcome.detail
    assert size(world) == before


# --- sale --------------------------------------------------------------------------------------


def test_nothing_but_recall_follows_a_sale(world: BeefWorld) -> None:
    packs = world.commission(3)
    move(world, packs, MEAT, RETAIL_A, end=STORE_A)
    world.ok(RETAIL_A, builders.sell(packs[:1], STORE_A, at()))
    sold = "pack 0001 was sold: nothing but a recall may follow a sale"
    refuse(world, RETAIL_A, builders.sell(packs[:1], STORE_A, at()), sold)
    refuse(world, RETAIL_A, builders.aggregate(world.carton(9), packs[:1], STORE_A, at()), sold)
    refuse(world, CUSTOMS, builders.inspect(packs[:1], "HC-1", True, "hold", STORE_A, at()), sold)
    recall = builders.recall(GTIN, world.lot, "E. coli in a retained sample", STORE_A, at())
    world.ok(REGULATOR, recall)
    assert packs[0] in journey(world, eid(recall))


def test_cannot_resell_a_carton_with_a_sold_pack_inside(world: BeefWorld) -> None:
    packs, first, _ = cartons(world)
    move(world, [first], MEAT, RETAIL_A, end=STORE_A)
    world.ok(RETAIL_A, builders.sell(packs[:1], STORE_A, at()))
    refuse(
        world,
        RETAIL_A,
        builders.aggregate(world.container(1), [first], STORE_A, at()),
        "pack 0001 was sold",
    )


def test_only_the_holder_may_sell(world: BeefWorld) -> None:
    packs = world.commission(2)
    move(world, packs, MEAT, RETAIL_A, end=STORE_A)
    refuse(
        world,
        RETAIL_B,
        builders.sell(packs[:1], STORE_B, at()),
        "pack 0001 is held by retail-a, not retail-b: only the holder may sell it",
    )


def test_cannot_sell_what_has_not_arrived(world: BeefWorld) -> None:
    packs = world.commission(2)
    world.ok(MEAT, builders.ship(packs, MEAT, RETAIL_A, MEATWORKS, at()))
    refuse(world, RETAIL_A, builders.sell(packs[:1], STORE_A, at()), "is in transit to retail-a")


def test_cannot_sell_a_recalled_pack(world: BeefWorld) -> None:
    packs = world.commission(2)
    move(world, packs, MEAT, RETAIL_A, end=STORE_A)
    world.ok(MEAT, builders.recall(GTIN, world.lot, "metal fragment", MEATWORKS, at()))
    refuse(
        world,
        RETAIL_A,
        builders.sell(packs[:1], STORE_A, at()),
        f"pack 0001 is of recalled lot {world.lot}: it cannot be sold",
    )


# --- customs -----------------------------------------------------------------------------------


def test_customs_hold_blocks_distribution(world: BeefWorld) -> None:
    packs, (first, _), box = loaded_container(world)
    move(world, [box], MEAT, IMPORTER, end=PORT_CN)
    world.ok(CUSTOMS, builders.inspect([box], "AU-EHC-1", False, "hold", PORT_CN, at()))
    held = "CSQU3054383 is held by customs: it cannot be distributed"
    refuse(world, IMPORTER, builders.ship([box], IMPORTER, RETAIL_A, WAREHOUSE, at()), held)
    refuse(world, IMPORTER, builders.disaggregate(box, [first], WAREHOUSE, at()), held)
    world.ok(CUSTOMS, builders.inspect([box], "AU-EHC-1", True, "release", PORT_CN, at()))
    world.ok(IMPORTER, builders.disaggregate(box, [], WAREHOUSE, at()))
    move(world, [first], IMPORTER, RETAIL_A, WAREHOUSE, STORE_A)
    world.ok(RETAIL_A, builders.sell(packs[:1], STORE_A, at()))


def test_customs_hold_on_one_pack_blocks_its_carton(world: BeefWorld) -> None:
    packs, first, second = cartons(world)
    world.ok(CUSTOMS, builders.inspect(packs[:1], "AU-EHC-2", False, "hold", MEATWORKS, at()))
    refuse(
        world,
        MEAT,
        builders.ship([first], MEAT, EXPORTER, MEATWORKS, at()),
        "pack 0001 is held by customs: it cannot be distributed",
    )
    world.ok(MEAT, builders.ship([second], MEAT, EXPORTER, MEATWORKS, at()))


def test_customs_hold_blocks_the_sale_of_a_pack(world: BeefWorld) -> None:
    packs = world.commission(2)
    move(world, packs, MEAT, RETAIL_A, end=STORE_A)
    world.ok(CUSTOMS, builders.inspect(packs, "AU-EHC-3", False, "hold", STORE_A, at()))
    refuse(world, RETAIL_A, builders.sell(packs[1:], STORE_A, at()), "0002 is held by customs")


def test_customs_cannot_inspect_a_code_never_registered(world: BeefWorld) -> None:
    world.commission(1)
    refuse(
        world,
        CUSTOMS,
        builders.inspect([world.container(1)], "HC-9", True, "release", PORT_CN, at()),
        "container MSKU9070323 was never commissioned or packed",
    )


# --- aggregation -------------------------------------------------------------------------------


def test_aggregation_children_must_exist_and_be_held(world: BeefWorld) -> None:
    packs = world.commission(2)
    refuse(
        world,
        MEAT,
        builders.aggregate(world.carton(1), [*packs, *other_lot("GHOST")], MEATWORKS, at()),
        "pack 0001 was never commissioned or packed",
    )
    refuse(
        world,
        EXPORTER,
        builders.aggregate(world.carton(1), packs, PORT_AU, at()),
        "pack 0001 is held by au-meatworks, not au-exporter: only the holder may pack it",
    )
    assert rows(world, events, record_type="beef.aggregate") == []


def test_cannot_pack_into_someone_elses_carton(world: BeefWorld) -> None:
    _, first, _ = cartons(world)
    theirs = other_lot("L2612")
    world.ok(MEAT, builders.commission(theirs, lot_data("L2612"), MEATWORKS, at()))
    move(world, theirs, MEAT, EXPORTER)
    refuse(
        world,
        EXPORTER,
        builders.aggregate(first, theirs, PORT_AU, at()),
        "carton 193123450000000019 is held by au-meatworks, not au-exporter",
    )


def test_a_pack_cannot_be_in_two_cartons(world: BeefWorld) -> None:
    packs, first, second = cartons(world)
    refuse(
        world,
        MEAT,
        builders.aggregate(second, packs[:1], MEATWORKS, at()),
        f"pack 0001 is already inside {first.rsplit('/', 1)[-1]}",
    )


def test_a_carton_cannot_hold_a_carton(world: BeefWorld) -> None:
    _, first, second = cartons(world)
    refuse(
        world,
        MEAT,
        builders.aggregate(first, [second], MEATWORKS, at()),
        "a carton cannot hold a carton",
    )


def test_a_container_cannot_hold_a_container(world: BeefWorld) -> None:
    _, _, box = loaded_container(world)
    refuse(
        world,
        MEAT,
        builders.aggregate(world.container(1), [box], MEATWORKS, at()),
        "a container cannot hold a container",
    )


def test_cannot_pack_in_transit(world: BeefWorld) -> None:
    packs = world.commission(2)
    world.ok(MEAT, builders.ship(packs, MEAT, EXPORTER, MEATWORKS, at()))
    refuse(
        world,
        MEAT,
        builders.aggregate(world.carton(1), packs, MEATWORKS, at()),
        "pack 0001 is in transit to au-exporter",
    )


def test_cannot_repack_a_recalled_pack(world: BeefWorld) -> None:
    packs = world.commission(2)
    world.ok(REGULATOR, builders.recall(GTIN, world.lot, "labelling error", MEATWORKS, at()))
    refuse(
        world,
        MEAT,
        builders.aggregate(world.carton(1), packs, MEATWORKS, at()),
        "pack 0001 is of a recalled lot",
    )


def test_cannot_unpack_what_is_not_inside(world: BeefWorld) -> None:
    packs, first, _ = cartons(world)
    refuse(
        world,
        MEAT,
        builders.disaggregate(first, packs[3:4], MEATWORKS, at()),
        f"0004 is not inside {first.rsplit('/', 1)[-1]}",
    )


def test_cannot_unpack_a_carton_that_does_not_exist(world: BeefWorld) -> None:
    packs = world.commission(2)
    refuse(
        world,
        MEAT,
        builders.disaggregate(world.carton(5), packs, MEATWORKS, at()),
        f"carton {world.carton(5).rsplit('/', 1)[-1]} does not exist",
    )


def test_only_the_holder_may_unpack(world: BeefWorld) -> None:
    _, first, _ = cartons(world)
    refuse(
        world,
        EXPORTER,
        builders.disaggregate(first, [], PORT_AU, at()),
        "is held by au-meatworks, not au-exporter: only the holder may unpack it",
    )


# --- cold chain, recall, corrections -----------------------------------------------------------


def test_only_the_holder_or_receiver_may_log_temperatures(world: BeefWorld) -> None:
    _, _, box = loaded_container(world)
    world.ok(MEAT, builders.ship([box], MEAT, EXPORTER, MEATWORKS, at()))
    log = builders.sensor([box], [(at(), -1.4)], VESSEL, at())
    refuse(world, CARRIER, log, "reefer-line neither holds nor receives container CSQU3054383")
    world.ok(EXPORTER, log)  # the addressee, while the container is on its way


def test_cannot_log_temperatures_of_a_code_never_registered(world: BeefWorld) -> None:
    world.commission(1)
    refuse(
        world,
        CARRIER,
        builders.sensor([world.container(1)], [(at(), -1.0)], VESSEL, at()),
        "container MSKU9070323 was never commissioned or packed",
    )


def test_cannot_recall_a_lot_never_commissioned(world: BeefWorld) -> None:
    world.commission(1)
    refuse(
        world,
        REGULATOR,
        builders.recall(GTIN, "NOSUCH", "rumour", WAREHOUSE, at()),
        f"lot NOSUCH of GTIN {GTIN} was never commissioned",
    )


def test_cannot_recall_a_lot_twice(world: BeefWorld) -> None:
    world.commission(1)
    world.ok(REGULATOR, builders.recall(GTIN, world.lot, "first notice", WAREHOUSE, at()))
    refuse(
        world,
        MEAT,
        builders.recall(GTIN, world.lot, "second notice", MEATWORKS, at()),
        f"lot {world.lot} is already recalled",
    )
    assert lot_row(world)["recall_reason"] == "first notice"


def test_a_processor_cannot_recall_another_processors_lot(world: BeefWorld) -> None:
    """BUG: any beef.processor may recall any lot; a competing meatworks can pull another's
    product off every shelf. Only the regulator or the lot's own processor should recall it."""
    world.commission(2)
    rival = Signer.generate("sealchain.demo/org/nsw-meatworks")
    member = {
        "org": "nsw-meatworks",
        "name": "NSW meatworks",
        "roles": ["beef.processor"],
        "vkeys": [rival.vkey],
    }
    world.ok("cac-registry", ("ledger.member.add", member))
    world.signers["nsw-meatworks"] = rival
    before = size(world)
    outcome = world.do(
        "nsw-meatworks", builders.recall(GTIN, world.lot, "sabotage", MEATWORKS, at())
    )
    assert not isinstance(outcome, Accepted), "a rival processor recalled au-meatworks' lot"
    assert outcome.code == "state-conflict", outcome.detail
    assert size(world) == before


def test_only_the_recorder_may_correct_an_event(world: BeefWorld) -> None:
    packs = world.commission(2)
    shipped = builders.ship(packs, MEAT, EXPORTER, MEATWORKS, at())
    world.ok(MEAT, shipped)
    refuse(
        world,
        EXPORTER,
        builders.correct(eid(shipped), "it never left", at()),
        "only au-meatworks, who recorded the event, may correct it",
    )


def test_cannot_correct_an_event_not_on_the_ledger(world: BeefWorld) -> None:
    packs = world.commission(2)
    unsent = builders.ship(packs, MEAT, EXPORTER, MEATWORKS, at())
    refuse(
        world,
        MEAT,
        builders.correct(eid(unsent), "typo", at()),
        "the event to correct is not on the ledger",
    )


def test_cannot_correct_an_event_twice(world: BeefWorld) -> None:
    packs = world.commission(2)
    shipped = builders.ship(packs, MEAT, EXPORTER, MEATWORKS, at())
    world.ok(MEAT, shipped)
    world.ok(MEAT, builders.correct(eid(shipped), "wrong dock", at()))
    refuse(
        world,
        MEAT,
        builders.correct(eid(shipped), "rewrite history", at()),
        "that event is already corrected",
    )


def test_the_same_event_cannot_be_recorded_twice(world: BeefWorld) -> None:
    """BUG: an event already on the ledger, resubmitted in a new envelope (a retry with a fresh
    nonce), passes the rules and then crashes the sequencer on the beef_events primary key."""
    _, _, box = loaded_container(world)
    move(world, [box], MEAT, CARRIER, end=PORT_AU)
    log = builders.sensor([box], [(at(), -1.2), (at(), -1.3)], VESSEL, at())
    world.ok(CARRIER, log)
    before = size(world)
    try:
        detail = world.refused(CARRIER, log)
    except IntegrityError as e:
        pytest.fail(f"the sequencer crashed instead of refusing a repeated event: {e.orig}")
    assert "already" in detail, detail
    assert size(world) == before


def test_a_repeated_event_does_not_sink_the_rest_of_its_block(world: BeefWorld) -> None:
    """BUG (same cause): one repeated event in a batch loses every other entry of the block."""
    packs = world.commission(2)
    inspection = builders.inspect(packs, "AU-EHC-7", True, "release", PORT_CN, at())
    world.ok(CUSTOMS, inspection)
    sign = world.signers
    fine = sign_envelope(
        sign[MEAT],
        type="beef.ship",
        org=MEAT,
        body=builders.ship(packs, MEAT, EXPORTER, PORT_AU, at())[1],
    )
    again = sign_envelope(sign[CUSTOMS], type="beef.inspect", org=CUSTOMS, body=inspection[1])
    assert world.node.sequencer is not None
    try:
        first, second = world.node.sequencer.submit([fine.raw, again.raw])
    except IntegrityError as e:
        pytest.fail(f"the whole block was lost to a repeated event: {e.orig}")
    assert isinstance(first, Accepted)
    assert not isinstance(second, Accepted) and second.code == "state-conflict"


# --- role refusals -----------------------------------------------------------------------------


def _role_cases() -> list[tuple[str, str, Callable[[BeefWorld], Record]]]:
    def pack(w: BeefWorld) -> list[str]:
        return w.packs[:1]

    return [
        (
            "retail-a",
            "beef.commission",
            lambda w: builders.commission(other_lot("R1"), lot_data("R1"), STORE_A, at()),
        ),
        ("reefer-line", "beef.sell", lambda w: builders.sell(pack(w), VESSEL, at())),
        ("retail-a", "beef.ship", lambda w: builders.ship(pack(w), RETAIL_A, MEAT, STORE_A, at())),
        ("au-meatworks", "beef.receive", lambda w: builders.receive(pack(w), MEAT, STORE_A, at())),
        (
            "gacc-shanghai",
            "beef.aggregate",
            lambda w: builders.aggregate(w.carton(1), pack(w), PORT_CN, at()),
        ),
        (
            "au-meatworks",
            "beef.sensor",
            lambda w: builders.sensor(pack(w), [(at(), -1.0)], MEATWORKS, at()),
        ),
        (
            "sh-importer",
            "beef.inspect",
            lambda w: builders.inspect(pack(w), "HC", True, "release", WAREHOUSE, at()),
        ),
        (
            "au-exporter",
            "beef.recall",
            lambda w: builders.recall(GTIN, w.lot, "bad", PORT_AU, at()),
        ),
        ("samr", "beef.sell", lambda w: builders.sell(pack(w), WAREHOUSE, at())),
        (
            "hz-notary",
            "beef.correct",
            lambda w: builders.correct("ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0", "x", at()),
        ),
    ]


@pytest.mark.parametrize(
    ("org", "record_type", "make"),
    _role_cases(),
    ids=[f"{org}-{rt.split('.')[1]}" for org, rt, _ in _role_cases()],
)
def test_parties_may_only_write_the_steps_of_their_role(
    world: BeefWorld, org: str, record_type: str, make: Callable[[BeefWorld], Record]
) -> None:
    world.commission(2)
    record = make(world)
    assert record[0] == record_type
    refuse(world, org, record, f"may not write {record_type}", code="forbidden-role")


# --- body refusals -----------------------------------------------------------------------------


def _packs(gtin: str, lot: str, n: int = 2) -> list[str]:
    return [f"https://id.gs1.org/01/{gtin}/10/{lot}/21/{i:04d}" for i in range(1, n + 1)]


def test_commissioning_refuses_a_wrong_gtin_check_digit(world: BeefWorld) -> None:
    bad = GTIN[:-1] + str((int(GTIN[-1]) + 1) % 10)
    lot = {**lot_data("L1"), "gtin": bad}
    record = builders.commission(_packs(bad, "L1"), lot, MEATWORKS, at())
    refuse(world, MEAT, record, f"GTIN {bad} has a wrong check digit", code="invalid-body")


@pytest.mark.parametrize("lot", ["L 26", "L#26", "LOT-ÄÖ", "L" * 21, "L26\n"])
def test_commissioning_refuses_a_lot_outside_gs1_set_82(world: BeefWorld, lot: str) -> None:
    record = builders.commission(_packs(GTIN, lot), lot_data(lot), MEATWORKS, at())
    refuse(world, MEAT, record, "of the GS1 set 82", code="invalid-body")


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("productName", "Chilled striploin\r"),  # HTML turns CR into LF: a page would differ
        ("origin", "Queensland\u202e,ailartsuA"),  # a right-to-left override reorders it
        ("processor", "Meatworks\x00"),
        ("cut", "strip\nloin"),  # one line only
    ],
)
def test_text_a_page_shows_refuses_control_and_bidi_characters(
    world: BeefWorld, field: str, text: str
) -> None:
    """A carriage return in a signed product name turned a genuine pack's verdict red: text a
    page shows as signed may not hold characters a browser or a terminal would change."""
    lot = {**lot_data("L1"), field: text}
    record = builders.commission(_packs(GTIN, "L1"), lot, MEATWORKS, at())
    refuse(
        world, MEAT, record, "control or bidirectional formatting characters", code="invalid-body"
    )


def test_a_note_may_span_lines_but_not_hold_a_carriage_return(world: BeefWorld) -> None:
    packs = world.commission(1)
    shipped = builders.ship(packs, "au-meatworks", "au-exporter", MEATWORKS, at())
    world.ok(MEAT, shipped)
    good = builders.correct(eid(shipped), "wrong truck\nsee the second line", at())
    bad = builders.correct(eid(shipped), "wrong truck\r\nsee the second line", at())
    refuse(world, MEAT, bad, "control character U+000D", code="invalid-body")
    world.ok(MEAT, good)


def test_event_id_must_be_the_events_hash(world: BeefWorld) -> None:
    record_type, body = builders.commission(_packs(GTIN, "L1"), lot_data("L1"), MEATWORKS, at())
    body["event"]["eventID"] = "ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0"
    refuse(
        world,
        MEAT,
        (record_type, body),
        "eventID is not the CBV 2.0 hash of the event",
        code="invalid-body",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eventTime", "2020-01-01T00:00:00.000Z"),
        ("readPoint", {"id": "urn:sealchain:place:elsewhere"}),
        ("destinationList", [{"type": "owning_party", "destination": "urn:sealchain:org:samr"}]),
    ],
)
def test_a_tampered_event_is_refused(world: BeefWorld, field: str, value: object) -> None:
    packs = world.commission(2)
    record_type, body = builders.ship(packs, MEAT, EXPORTER, MEATWORKS, at())
    body["event"] = {**body["event"], field: value}  # changed after its id was computed
    refuse(
        world,
        MEAT,
        (record_type, body),
        "eventID is not the CBV 2.0 hash of the event",
        code="invalid-body",
    )


def test_a_tampered_epc_list_is_refused(world: BeefWorld) -> None:
    packs = world.commission(3)
    record_type, body = builders.ship(packs[:1], MEAT, EXPORTER, MEATWORKS, at())
    body["event"]["epcList"].append(packs[1])
    refuse(world, MEAT, (record_type, body), "eventID is not the CBV 2.0 hash", code="invalid-body")


def test_commissioning_refuses_packs_of_another_lot_than_ilmd(world: BeefWorld) -> None:
    record = builders.commission(
        [*_packs(GTIN, "L1"), *_packs(GTIN, "L2")], lot_data("L1"), MEATWORKS, at()
    )
    refuse(
        world,
        MEAT,
        record,
        "every commissioned pack must be of the lot in ilmd",
        code="invalid-body",
    )


@pytest.mark.parametrize(
    ("serial", "why"),
    [
        ("00 1", "GS1 set 82"),  # a space: no label could carry it
        ("0" * 21, "GS1 set 82"),
        ("1/2", "is not /01/<gtin>/10/<lot>/21/<serial>"),  # '/' unencoded: another path
        ("%31", "must be written as"),  # '1' percent-encoded: the pack would have two URIs
    ],
)
def test_commissioning_refuses_a_pack_no_scan_could_read(
    world: BeefWorld, serial: str, why: str
) -> None:
    """A pack is made only by its commissioning: each must be a Digital Link that a scan
    parses back to the same URI, or its label would open no page."""
    packs = [*_packs(GTIN, "L1"), f"https://id.gs1.org/01/{GTIN}/10/L1/21/{serial}"]
    record = builders.commission(packs, lot_data("L1"), MEATWORKS, at())
    refuse(world, MEAT, record, why, code="invalid-body")


def test_commissioning_refuses_a_pack_uri_longer_than_its_columns(world: BeefWorld) -> None:
    """Twenty '%' in lot and serial are in set 82 but take 60 characters each as a Digital
    Link: 164 in all, which PostgreSQL's 160-character columns would have refused with a
    DataError (a 500) after SQLite had stored it."""
    lot = "%" * 20
    encoded = "%25" * 20
    long_pack = f"https://id.gs1.org/01/{GTIN}/10/{encoded}/21/{encoded}"
    assert len(long_pack) == 164
    record = builders.commission([long_pack], lot_data(lot), MEATWORKS, at())
    refuse(world, MEAT, record, "164 characters as a Digital Link, more than 160", "invalid-body")


def test_a_pack_committed_before_the_digital_link_rule_still_audits_and_reindexes(
    world: BeefWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule that a pack must read back as itself is checked when it is commissioned, not
    by the body model: the audit and reindex validate every entry already on the ledger, and a
    ledger could hold packs committed before the rule (a serial with '(' , say)."""
    old_pack = f"https://id.gs1.org/01/{GTIN}/10/OLD/21/A(1)"
    record = builders.commission([old_pack], lot_data("OLD"), MEATWORKS, at())
    refuse(world, MEAT, record, "must be written as", "invalid-body")
    monkeypatch.setattr(rules, "check_pack_uri", lambda uri: None)  # as before the rule
    world.ok(MEAT, record)
    monkeypatch.undo()
    result = audit(world.node.engine, world.node.registry)
    assert result.ok, result.first_bad
    assert reindex(world.node.engine, world.node.registry) == size(world)
    assert obj(world, old_pack).kind == "pack"


def test_commissioning_refuses_best_before_before_packed_on(world: BeefWorld) -> None:
    lot = {**lot_data("L1"), "packedOn": "2026-11-01", "bestBefore": "2026-10-01"}
    record = builders.commission(_packs(GTIN, "L1"), lot, MEATWORKS, at())
    refuse(world, MEAT, record, "bestBefore must be after packedOn", code="invalid-body")


def test_packs_are_keyed_on_the_canonical_resolver_only(world: BeefWorld) -> None:
    local = [p.replace("https://id.gs1.org", "http://127.0.0.1:8000") for p in _packs(GTIN, "L1")]
    record = builders.commission(local, lot_data("L1"), MEATWORKS, at())
    refuse(world, MEAT, record, "is not a pack, carton (SSCC) or container", code="invalid-body")


def test_only_packs_are_sold_to_consumers(world: BeefWorld) -> None:
    _, first, _ = cartons(world)
    refuse(
        world,
        RETAIL_A,
        builders.sell([first], STORE_A, at()),
        "only packs are sold to consumers",
        code="invalid-body",
    )


def test_a_pack_cannot_contain_other_objects(world: BeefWorld) -> None:
    packs = world.commission(2)
    refuse(
        world,
        MEAT,
        builders.aggregate(packs[0], packs[1:], MEATWORKS, at()),
        "a pack cannot contain other objects",
        code="invalid-body",
    )


def test_other_epcis_fields_are_refused(world: BeefWorld) -> None:
    packs = world.commission(2)
    record_type, body = builders.ship(packs, MEAT, EXPORTER, MEATWORKS, at())
    event = dict(body["event"])
    del event["eventID"]
    body["event"] = with_id({**event, "bizLocation": {"id": "urn:sealchain:place:x"}})
    refuse(world, MEAT, (record_type, body), "bizLocation", code="invalid-body")


# --- what the projection records ---------------------------------------------------------------


def test_receive_moves_custody_of_everything_inside(world: BeefWorld) -> None:
    packs, boxes, box = loaded_container(world)
    everything = [box, *boxes, *packs]
    move(world, [box], MEAT, EXPORTER, MEATWORKS, PORT_AU)
    ship = builders.ship([box], EXPORTER, CARRIER, PORT_AU, at())
    world.ok(EXPORTER, ship)
    for uri in everything:
        assert (obj(world, uri).holder, obj(world, uri).in_transit_to) == (EXPORTER, CARRIER)
    receive = builders.receive([box], EXPORTER, VESSEL, at())
    received = world.ok(CARRIER, receive)
    for uri in everything:
        assert (obj(world, uri).holder, obj(world, uri).in_transit_to) == (CARRIER, None)
    assert obj(world, packs[0]).parent == boxes[0] and obj(world, boxes[0]).parent == box
    (shipment,) = rows(world, shipments, event_id=eid(ship))
    assert (shipment.source, shipment.destination) == (EXPORTER, CARRIER)
    assert shipment.received_idx == received.index
    assert journey(world, eid(ship)) == journey(world, eid(receive)) == set(everything)


def test_receiving_one_shipment_does_not_close_another(world: BeefWorld) -> None:
    """BUG: a receive marks *every* open shipment from that source to the receiver as received
    (projection matches shipments by source and destination only), so beef_shipments says the
    second carton arrived when it is still in transit."""
    _, first, second = cartons(world)
    ship_first = builders.ship([first], MEAT, EXPORTER, MEATWORKS, at())
    ship_second = builders.ship([second], MEAT, EXPORTER, MEATWORKS, at())
    world.ok(MEAT, ship_first)
    world.ok(MEAT, ship_second)
    received = world.ok(EXPORTER, builders.receive([first], MEAT, PORT_AU, at()))
    assert obj(world, second).in_transit_to == EXPORTER
    assert rows(world, shipments, event_id=eid(ship_first))[0].received_idx == received.index
    assert rows(world, shipments, event_id=eid(ship_second))[0].received_idx is None


def test_unpacking_frees_the_children(world: BeefWorld) -> None:
    packs, first, second = cartons(world)
    unpack = builders.disaggregate(first, packs[:1], MEATWORKS, at())
    world.ok(MEAT, unpack)
    assert obj(world, packs[0]).parent is None and obj(world, packs[1]).parent == first
    assert {first, packs[0]} <= journey(world, eid(unpack))
    world.ok(MEAT, builders.disaggregate(second, [], MEATWORKS, at()))  # empty: all of them
    assert all(obj(world, p).parent is None for p in packs[3:])
    move(world, [packs[0], *packs[3:]], MEAT, EXPORTER)
    assert obj(world, packs[3]).holder == EXPORTER


def test_customs_hold_and_release_mark_everything_inside(world: BeefWorld) -> None:
    packs, boxes, box = loaded_container(world)
    everything = [box, *boxes, *packs]
    world.ok(MEAT, builders.ship([box], MEAT, IMPORTER, MEATWORKS, at()))
    hold = builders.inspect([box], "AU-EHC-4", False, "hold", PORT_CN, at(), note="label torn")
    world.ok(CUSTOMS, hold)
    assert all(obj(world, u).held for u in everything)
    (event,) = rows(world, events, event_id=eid(hold))
    assert "non-conformant, hold (health certificate AU-EHC-4)" in event.summary
    world.ok(CUSTOMS, builders.inspect([box], "AU-EHC-4", True, "release", PORT_CN, at()))
    assert not any(obj(world, u).held for u in everything)


def test_a_sale_records_when_the_pack_was_sold(world: BeefWorld) -> None:
    packs = world.commission(3)
    move(world, packs, MEAT, RETAIL_A, end=STORE_A)
    sale = builders.sell(packs[1:2], STORE_A, at())
    sold = world.ok(RETAIL_A, sale)
    assert obj(world, packs[1]).sold_idx == sold.index
    assert obj(world, packs[0]).sold_idx is None and obj(world, packs[2]).sold_idx is None
    assert journey(world, eid(sale)) == {packs[1]}


def test_recall_marks_every_pack_of_the_lot_wherever_it_is(world: BeefWorld) -> None:
    packs = world.commission(6)
    carton = world.carton(1)
    world.ok(MEAT, builders.aggregate(carton, packs[3:5], MEATWORKS, at()))
    move(world, packs[:2], MEAT, RETAIL_A, end=STORE_A)
    move(world, packs[2:3], MEAT, RETAIL_B, end=STORE_B)
    world.ok(RETAIL_A, builders.sell(packs[:1], STORE_A, at()))
    world.ok(MEAT, builders.ship([carton], MEAT, EXPORTER, MEATWORKS, at()))  # on the road
    # packs[5] is still at the meatworks
    recall = builders.recall(GTIN, world.lot, "Listeria in a retained sample", WAREHOUSE, at())
    recalled = world.ok(REGULATOR, recall)
    row = lot_row(world)
    assert row["recalled_idx"] == recalled.index
    assert row["recall_reason"] == "Listeria in a retained sample"
    assert journey(world, eid(recall)) == set(packs)  # sold, two retailers, in transit, at home
    refuse(world, RETAIL_B, builders.sell(packs[2:3], STORE_B, at()), "is of recalled lot")
    world.ok(EXPORTER, builders.receive([carton], MEAT, PORT_AU, at()))  # returns still move


def test_sensor_readings_are_flagged_against_the_chilled_range(world: BeefWorld) -> None:
    packs, boxes, box = loaded_container(world)
    world.ok(MEAT, builders.ship([box], MEAT, CARRIER, MEATWORKS, at()))
    expected = [
        (-1.5, "ok"),
        (-2.5, "ok"),
        (1.0, "ok"),
        (-2.6, "excursion"),
        (1.1, "excursion"),
        (4.0, "excursion"),
        (4.1, "alarm"),
        (9.5, "alarm"),
        (-12.0, "excursion"),
    ]
    log = builders.sensor([box], [(at(), value) for value, _ in expected], VESSEL, at())
    world.ok(CARRIER, log)  # the addressee logs while the container is at sea
    found = rows(world, readings, event_id=eid(log))
    assert [(r.uri, r.seq) for r in found] == [(box, i) for i in range(len(expected))]
    assert [(r.value, r.status) for r in found] == expected
    (event,) = rows(world, events, event_id=eid(log))
    assert event.summary == "Temperature log: 9 readings, -12.0 to 9.5 C"
    assert journey(world, eid(log)) == {box, *boxes, *packs}  # shows on every pack's page


def test_certificates_are_recorded_from_a_shipment(world: BeefWorld) -> None:
    packs = world.commission(2)
    move(world, packs, MEAT, EXPORTER)
    certs = [
        {"kind": "export-health", "number": "AU-EHC-2026-0042", "issuer": "DAFF Australia"},
        {"kind": "halal", "number": "HAL-77", "issuer": "AFIC"},
    ]
    ship = builders.ship(packs, EXPORTER, CARRIER, PORT_AU, at(), certificates=certs)
    world.ok(EXPORTER, ship)
    found = rows(world, certificates, event_id=eid(ship))
    assert sorted((r.kind, r.number, r.issuer) for r in found) == sorted(
        (c["kind"], c["number"], c["issuer"]) for c in certs
    )
    assert ship[1]["event"]["certificationInfo"] == [
        "urn:sealchain:cert:AU-EHC-2026-0042",
        "urn:sealchain:cert:HAL-77",
    ]


def test_a_correction_marks_the_event_without_deleting_it(world: BeefWorld) -> None:
    _, _, box = loaded_container(world)
    move(world, [box], MEAT, CARRIER, end=VESSEL)
    log = builders.sensor([box], [(at(), 6.0)], VESSEL, at())
    world.ok(CARRIER, log)
    note = "probe was outside the container during the reading"
    corrected = world.ok(CARRIER, builders.correct(eid(log), note, at()))
    (event,) = rows(world, events, event_id=eid(log))
    assert (event.corrected_idx, event.correction_note) == (corrected.index, note)
    assert [r.status for r in rows(world, readings, event_id=eid(log))] == ["alarm"]
    assert box in journey(world, eid(log))
    assert obj(world, box).holder == CARRIER


# --- the whole chain ---------------------------------------------------------------------------


def dump(world: BeefWorld) -> dict[str, list[tuple[object, ...]]]:
    with read_transaction(world.node.engine) as conn:
        repo = Repository(conn)
        return {table.name: repo.dump(table) for table in metadata.sorted_tables}


def test_full_chain_audits_and_reindexes_identically(world: BeefWorld) -> None:
    packs = world.commission(12, commit=True)
    first, second, box = world.carton(1), world.carton(2), world.container(0)
    world.ok(MEAT, builders.aggregate(first, packs[:6], MEATWORKS, at()))
    world.ok(MEAT, builders.aggregate(second, packs[6:], MEATWORKS, at()))
    world.ok(MEAT, builders.aggregate(box, [first, second], MEATWORKS, at()))
    move(world, [box], MEAT, EXPORTER, MEATWORKS, PORT_AU)
    cert = {"kind": "export-health", "number": "AU-EHC-2026-0001", "issuer": "DAFF Australia"}
    world.ok(EXPORTER, builders.ship([box], EXPORTER, CARRIER, PORT_AU, at(), certificates=[cert]))
    world.ok(CARRIER, builders.receive([box], EXPORTER, PORT_AU, at()))
    temps = [(at(), v) for v in (-1.6, -1.4, 0.2, 1.8, -1.5)]
    world.ok(CARRIER, builders.sensor([box], temps, VESSEL, at()))
    world.ok(CARRIER, builders.ship([box], CARRIER, IMPORTER, PORT_CN, at()))
    world.ok(CUSTOMS, builders.inspect([box], "AU-EHC-2026-0001", False, "hold", PORT_CN, at()))
    world.ok(IMPORTER, builders.receive([box], CARRIER, WAREHOUSE, at()))
    refuse(
        world,
        IMPORTER,
        builders.ship([box], IMPORTER, RETAIL_A, WAREHOUSE, at()),
        "is held by customs",
    )
    world.ok(CUSTOMS, builders.inspect([box], "AU-EHC-2026-0001", True, "release", PORT_CN, at()))
    world.ok(IMPORTER, builders.disaggregate(box, [], WAREHOUSE, at()))
    move(world, [first, second], IMPORTER, RETAIL_A, WAREHOUSE, STORE_A)
    world.ok(RETAIL_A, builders.disaggregate(first, [], STORE_A, at()))
    sale = builders.sell(packs[:3], STORE_A, at())
    world.ok(RETAIL_A, sale)
    world.ok(RETAIL_A, builders.correct(eid(sale), "one pack was returned unopened", at()))
    world.ok(REGULATOR, builders.recall(GTIN, world.lot, "precautionary recall", WAREHOUSE, at()))

    assert all(obj(world, p).holder == RETAIL_A for p in packs)
    assert [obj(world, p).sold_idx is not None for p in packs] == [True] * 3 + [False] * 9
    assert not any(obj(world, u).held for u in [box, first, second, *packs])

    result = audit(world.node.engine, world.node.registry)
    assert result.ok, result.first_bad
    assert result.entries == size(world)

    counter = ScanCounter()  # a public scan, off the ledger
    with read_transaction(world.node.engine) as conn:
        counter.record(world.node.engine, conn, packs[0], "a-phone", sold=True)
    counter.flush(world.node.engine)
    live = dump(world)
    assert all(live[t.name] for t in metadata.sorted_tables), "every beef table has rows"
    with write_transaction(world.node.engine) as conn:  # damage, so reindex must really rebuild
        conn.execute(readings.delete())
        conn.execute(objects.update().values(holder="nobody", held=True))
    assert dump(world) != live
    assert reindex(world.node.engine, world.node.registry) == size(world)
    rebuilt = dump(world)
    assert rebuilt == live
    assert rebuilt[scan_sources.name] == live[scan_sources.name]
    assert len(rebuilt[scan_sources.name]) == 1
    assert rebuilt[lots.name][0][0] == f"https://id.gs1.org/01/{GTIN}/10/{world.lot}"
