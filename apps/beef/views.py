"""What the public scan page shows for a pack, and the proofs the browser checks it with."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from apps.beef import state
from apps.beef.identifiers import PackId
from apps.beef.tables import certificates, event_objects, events, readings, scans
from ledger.core.envelope import format_ts
from ledger.core.policy import LogPolicy
from ledger.service.pipeline import utc_now
from ledger.service.proofs import checkpoint_with_cosignatures, inclusion_proofs
from ledger.storage.engine import write_transaction
from ledger.storage.repository import Repository

SCAN_WARNING_THRESHOLD = int(os.environ.get("SEALCHAIN_BEEF_SCAN_THRESHOLD", "10"))


@dataclass(frozen=True)
class ScanCount:
    count: int
    after_sale: int
    first_at: str
    last_at: str


class ScanCounter:
    """Counts public scans per code, off the ledger and without personal data.

    Counts are kept in memory and added to the database at most once a second in one short
    write, so a burst of scans does not queue behind the block writer for an fsync each.
    What a scan shows is the stored count plus this process's unflushed ones. Counts are kept
    per engine, so that a process serving several ledgers (tests do) writes each into its own;
    the server flushes them on shutdown (routes._flush_scans_on_shutdown).
    """

    def __init__(self, flush_every: float = 1.0) -> None:
        self.flush_every = flush_every
        # engine -> uri -> count, after sale, first, last
        self._pending: dict[Engine, dict[str, tuple[int, int, str, str]]] = {}
        self._lock = threading.Lock()
        self._flushed = time.monotonic()

    def record(self, engine: Engine, conn: Connection, uri: str, sold: bool) -> ScanCount:
        now = format_ts(utc_now())
        with self._lock:
            pending = self._pending.setdefault(engine, {})
            count, after, first, _ = pending.get(uri, (0, 0, now, now))
            pending[uri] = mine = (count + 1, after + int(sold), first, now)
            due = time.monotonic() - self._flushed >= self.flush_every
        row = conn.execute(select(scans).where(scans.c.uri == uri)).first()
        stored = (row.count, row.after_sale, row.first_at) if row is not None else (0, 0, mine[2])
        if due:
            self.flush(engine)
        return ScanCount(stored[0] + mine[0], stored[1] + mine[1], stored[2], now)

    def flush(self, engine: Engine) -> None:
        """Add this engine's pending counts to its database, in one write transaction."""
        with self._lock:
            pending = self._pending.pop(engine, {})
            self._flushed = time.monotonic()
        if not pending:
            return
        try:
            self._write(engine, pending)
        except Exception:
            self._put_back(engine, pending)  # counted again at the next flush, not lost
            raise

    def _put_back(self, engine: Engine, unwritten: dict[str, tuple[int, int, str, str]]) -> None:
        with self._lock:
            pending = self._pending.setdefault(engine, {})
            for uri, (count, after, first, last) in unwritten.items():
                newer = pending.get(uri)
                if newer is not None:  # scans recorded while the write was failing
                    count, after, last = count + newer[0], after + newer[1], newer[3]
                pending[uri] = (count, after, first, last)

    @staticmethod
    def _write(engine: Engine, pending: dict[str, tuple[int, int, str, str]]) -> None:
        with write_transaction(engine) as conn:
            for uri, (count, after, first, last) in pending.items():
                done = conn.execute(
                    update(scans)
                    .where(scans.c.uri == uri)
                    .values(
                        count=scans.c.count + count,
                        after_sale=scans.c.after_sale + after,
                        last_at=last,
                    )
                )
                if done.rowcount == 0:
                    conn.execute(
                        insert(scans).values(
                            uri=uri, count=count, after_sale=after, first_at=first, last_at=last
                        )
                    )


SCANS = ScanCounter()


def clone_warning(count: ScanCount, sold: bool) -> str | None:
    if sold and count.after_sale > 1:
        return (
            f"This pack was sold, yet its code has been scanned {count.after_sale} times since. "
            "The label may have been copied: check the seal and the place of purchase."
        )
    if count.count > SCAN_WARNING_THRESHOLD:
        return (
            f"This code has been scanned {count.count} times, more than a single pack should be. "
            "It may be a copied label."
        )
    return None


def _status(conn: Connection, obj: state.Obj, lot: dict[str, Any]) -> tuple[str, str]:
    """The banner: recalled, sold, held, in transit, on sale, or in the supply chain."""
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
    member = Repository(conn).member(obj.holder)
    if member is not None and "beef.retailer" in member.roles:
        return "on_sale", f"On sale at {member.name}."
    return "in_supply_chain", f"In the supply chain, held by {obj.holder}."


def scan_view(
    conn: Connection, pack: PackId, policy: LogPolicy, *, count_scans_in: Engine | None
) -> dict[str, Any]:
    """Everything the scan page shows, plus what the browser needs to verify it."""
    uri = pack.uri()
    obj = state.get(conn, uri)
    view: dict[str, Any] = {
        "pack": {"uri": uri, "gtin": pack.gtin, "lot": pack.lot, "serial": pack.serial},
    }
    lot = state.lot(conn, pack.lot_key) if obj is not None else None
    if obj is None or lot is None or obj.kind != "pack":
        view.update(
            status="unknown",
            message="This code was never registered on the ledger: it may be counterfeit.",
        )
        return view
    status, message = _status(conn, obj, lot)
    rows = conn.execute(
        select(events)
        .join(event_objects, event_objects.c.event_id == events.c.event_id)
        .where(event_objects.c.uri == uri)
        .order_by(events.c.idx)
    ).all()
    names = {m.org: m.name for m in Repository(conn).all_members()}
    journey = [
        {
            "index": r.idx,
            "tx_id": r.tx_id,
            "event_id": r.event_id,
            "type": r.record_type,
            "time": r.event_time,
            "place": json.loads(r.place),
            "org": r.org,
            "party": names.get(r.org, r.org),
            "step": r.summary,
            "corrected": r.correction_note,
        }
        for r in rows
    ]
    event_ids = [r.event_id for r in rows]
    temps = conn.execute(
        select(readings.c.time, readings.c.value, readings.c.status)
        .where(readings.c.event_id.in_(event_ids))
        .order_by(readings.c.time)
    ).all()
    certs = conn.execute(
        select(certificates.c.kind, certificates.c.number, certificates.c.issuer)
        .where(certificates.c.event_id.in_(event_ids))
        .order_by(certificates.c.number)
    ).all()
    sold = obj.sold_idx is not None
    scan = SCANS.record(count_scans_in, conn, uri, sold) if count_scans_in is not None else None
    view.update(
        status=status,
        message=message,
        product=lot["data"],
        journey=journey,
        temperatures=[{"time": t.time, "value": t.value, "status": t.status} for t in temps],
        certificates=[{"kind": c.kind, "number": c.number, "issuer": c.issuer} for c in certs],
        scans=None
        if scan is None
        else {
            "count": scan.count,
            "since": scan.first_at,
            "after_sale": scan.after_sale,
            "warning": clone_warning(scan, obj.sold_idx is not None),
        },
        verification=_proofs(conn, [r.idx for r in rows], {r.org for r in rows}, policy),
    )
    return view


def _proofs(
    conn: Connection, indexes: list[int], orgs: set[str], policy: LogPolicy
) -> dict[str, Any]:
    """Signed entries, inclusion proofs, the cosigned checkpoint and the keys to check them."""
    size, note = checkpoint_with_cosignatures(conn)
    # The stored bytes are the canonical entries: shipped as they are, never re-encoded.
    data = Repository(conn).entry_data(indexes)
    proofs = inclusion_proofs(conn, indexes, size)
    keys = [k for k in Repository(conn).all_keys() if k.org in orgs]  # only the journey's orgs
    return {
        "checkpoint": note,
        "entries": [
            {
                "index": index,
                "entry": base64.b64encode(data[index]).decode(),
                "proof": [base64.b64encode(p).decode() for p in proof],
            }
            for index, proof in zip(indexes, proofs, strict=True)
        ],
        "policy": {
            "logs": [log.vkey for log in policy.logs],
            "witnesses": {name: w.vkey for name, w in policy.witnesses.items()},
            "groups": {
                g.name: {"threshold": g.threshold, "members": list(g.members)}
                for g in policy.groups.values()
            },
            "quorum": policy.quorum,
        },
        "members": [{"org": k.org, "vkey": k.vkey, "revoked_at": k.revoked_at} for k in keys],
    }
