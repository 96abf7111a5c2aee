"""The beef projection: custody, contents, journeys, temperatures and certificates, written in
the block's transaction (docs/architecture.md §4) and rebuilt identically by `sealchain reindex`."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, insert, select, update

from apps.beef import lottree, rules, state
from apps.beef.coldchain import ColdChain
from apps.beef.identifiers import kind_of, lot_key
from apps.beef.models import (
    Aggregate,
    Commission,
    Correction,
    Inspect,
    LotCommitment,
    Recall,
    Receive,
    Sell,
    SensorReport,
    Ship,
    _WithEvent,
)
from apps.beef.tables import (
    DERIVED,
    certificates,
    event_objects,
    events,
    lot_trees,
    lots,
    objects,
    readings,
    shipments,
)
from ledger.plugin import SequencedEntry

STEP_WORDS = {
    "beef.commission": "Packed and commissioned",
    "beef.aggregate": "Packed into",
    "beef.disaggregate": "Unpacked from",
    "beef.ship": "Shipped to",
    "beef.receive": "Received from",
    "beef.sensor": "Temperature log",
    "beef.inspect": "Customs inspection",
    "beef.sell": "Sold to a consumer",
    "beef.recall": "Lot recalled",
    "beef.correct": "Correction",
}


@dataclass
class BeefProjection:
    cold_chain: ColdChain = field(default_factory=ColdChain)

    def check(self, conn: Connection, entry: SequencedEntry) -> None:
        if entry.envelope.type.startswith("beef."):
            rules.check(conn, entry)

    def clear(self, conn: Connection) -> None:
        for table in DERIVED:
            conn.execute(delete(table))

    def apply(self, conn: Connection, entry: SequencedEntry) -> None:
        body, org, idx = entry.body, entry.envelope.org, entry.index
        if isinstance(body, Correction):
            conn.execute(
                update(events)
                .where(events.c.event_id == body.eventID)
                .values(corrected_idx=idx, correction_note=body.note)
            )
            return
        if isinstance(body, LotCommitment):
            lot = body.lot
            key = lot_key(lot.gtin, lot.lot)
            packs = state.lot_uris(conn, key)
            conn.execute(
                insert(lot_trees).values(
                    lot_key=key,
                    idx=idx,
                    packs=len(packs),
                    tree=lottree.levels(lottree.leaves(packs)),
                )
            )
            return
        if not isinstance(body, _WithEvent):
            return
        event = body.event
        touched = list(event.epcList) or ([event.parentID] if event.parentID else [])
        summary = self._summary(conn, entry)
        conn.execute(
            insert(events).values(
                event_id=event.eventID,
                idx=idx,
                tx_id=entry.envelope.tx_id,
                record_type=entry.envelope.type,
                org=org,
                biz_step=event.bizStep,
                event_time=event.eventTime,
                place=body.place.model_dump_json(),
                summary=summary,
            )
        )
        if isinstance(body, Commission):
            lot = body.lot
            key = lot_key(lot.gtin, lot.lot)
            conn.execute(
                insert(lots).values(
                    lot_key=key,
                    gtin=lot.gtin,
                    lot=lot.lot,
                    data=lot.model_dump_json(),
                    processor=org,
                    commissioned_idx=idx,
                    packs=len(event.epcList),
                )
            )
            conn.execute(
                insert(objects),
                [
                    {
                        "uri": uri,
                        "kind": "pack",
                        "lot_key": key,
                        "parent": None,
                        "holder": org,
                        "in_transit_to": None,
                        "held": False,
                        "sold_idx": None,
                        "created_idx": idx,
                    }
                    for uri in event.epcList
                ],
            )
        elif isinstance(body, Aggregate):
            parent = event.parentID
            assert parent is not None
            if event.action == "ADD":
                if state.get(conn, parent) is None:
                    conn.execute(
                        insert(objects).values(
                            uri=parent,
                            kind=kind_of(parent),
                            lot_key=None,
                            parent=None,
                            holder=org,
                            in_transit_to=None,
                            held=False,
                            sold_idx=None,
                            created_idx=idx,
                        )
                    )
                conn.execute(
                    update(objects).where(objects.c.uri.in_(event.childEPCs)).values(parent=parent)
                )
            else:
                leaving = list(event.childEPCs) or state.children(conn, parent)
                touched = [parent, *leaving]
                conn.execute(update(objects).where(objects.c.uri.in_(leaving)).values(parent=None))
        elif isinstance(body, Ship):
            (destination,) = event.parties("destination")
            everything = [*event.epcList, *state.descendants(conn, list(event.epcList))]
            conn.execute(
                update(objects)
                .where(objects.c.uri.in_(everything))
                .values(in_transit_to=destination)
            )
            conn.execute(
                insert(shipments).values(
                    event_id=event.eventID, source=org, destination=destination
                )
            )
            for cert in body.certificates:
                conn.execute(
                    insert(certificates).values(
                        event_id=event.eventID,
                        number=cert.number,
                        kind=cert.kind,
                        issuer=cert.issuer,
                    )
                )
        elif isinstance(body, Receive):
            everything = [*event.epcList, *state.descendants(conn, list(event.epcList))]
            conn.execute(
                update(objects)
                .where(objects.c.uri.in_(everything))
                .values(holder=org, in_transit_to=None)
            )
            (source,) = event.parties("source")
            shipped_these = select(event_objects.c.event_id).where(
                event_objects.c.uri.in_(event.epcList)
            )
            conn.execute(
                update(shipments)
                .where(shipments.c.destination == org, shipments.c.source == source)
                .where(shipments.c.received_idx.is_(None))
                .where(shipments.c.event_id.in_(shipped_these))
                .values(received_idx=idx)
            )
        elif isinstance(body, SensorReport):
            rows = []
            for uri in event.epcList:
                seq = 0
                for element in event.sensorElementList:
                    for reading in element.sensorReport:
                        rows.append(
                            {
                                "event_id": event.eventID,
                                "uri": uri,
                                "seq": seq,
                                "time": reading.time,
                                "value": reading.value,
                                "status": self.cold_chain.status(reading.value),
                            }
                        )
                        seq += 1
            conn.execute(insert(readings), rows)
        elif isinstance(body, Inspect):
            everything = [*event.epcList, *state.descendants(conn, list(event.epcList))]
            conn.execute(
                update(objects)
                .where(objects.c.uri.in_(everything))
                .values(held=body.customs.decision == "hold")
            )
        elif isinstance(body, Sell):
            conn.execute(
                update(objects).where(objects.c.uri.in_(event.epcList)).values(sold_idx=idx)
            )
        elif isinstance(body, Recall):
            key = lot_key(body.gtin, body.lot)
            conn.execute(
                update(lots)
                .where(lots.c.lot_key == key)
                .values(recalled_idx=idx, recall_reason=body.reason)
            )
            touched = list(
                conn.execute(select(objects.c.uri).where(objects.c.lot_key == key)).scalars()
            )
        affected = sorted({*touched, *state.descendants(conn, touched)})
        if affected:
            conn.execute(
                insert(event_objects), [{"event_id": event.eventID, "uri": u} for u in affected]
            )

    @staticmethod
    def _summary(conn: Connection, entry: SequencedEntry) -> str:
        body = entry.body
        words = STEP_WORDS.get(entry.envelope.type, entry.envelope.type)
        event = body.event  # type: ignore[attr-defined]
        if isinstance(body, Commission):
            lot = body.lot
            return f"{words}: {len(event.epcList)} packs of {lot.productName}, lot {lot.lot}"
        if isinstance(body, Aggregate):
            target = rules.short(event.parentID or "")
            return f"{words} {kind_of(event.parentID or '')} {target}"
        if isinstance(body, Ship):
            return f"{words} {event.parties('destination')[0]}"
        if isinstance(body, Receive):
            return f"{words} {event.parties('source')[0]}"
        if isinstance(body, SensorReport):
            values = [r.value for e in event.sensorElementList for r in e.sensorReport]
            return f"{words}: {len(values)} readings, {min(values):.1f} to {max(values):.1f} C"
        if isinstance(body, Inspect):
            c = body.customs
            verdict = "conformant" if c.conformant else "non-conformant"
            return f"{words}: {verdict}, {c.decision} (health certificate {c.healthCertificate})"
        if isinstance(body, Recall):
            return f"{words}: {body.reason}"
        return words
