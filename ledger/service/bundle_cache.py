"""Page bundles made from a per-process snapshot: the checkpoint, the governance entries and
the entries many pages share (a lot's commissioning, a container's shipment) are read and
proven once per snapshot instead of once per page.

A bundle proves its entries against a recent final checkpoint, not necessarily the newest: a
proof against any checkpoint the policy accepts proves the same facts. So a process keeps, per
database engine (a standby's tree can lag the primary's), a snapshot: the checkpoint chosen as
`bundles.page_bundle` chooses it, the policy, and each entry's bundle item (its stored bytes
and inclusion proof against that checkpoint) once asked for. A snapshot is made again when it
is `ttl` seconds old, or at once when a page names an entry beyond its tree: which entries a
page is about always comes from the caller's own reading, so a new entry is never left out of
a page; only the checkpoint it is proven against may be up to `ttl` older than the newest
final one. A checkpoint that is not final yet (the witnesses have not cosigned the entries a
page needs) is never kept: the next page looks again.

A snapshot also keeps the members as the projection had them when it was made, by org: pages
that name a member (the party of each step) read them once per snapshot, not once per page.
Receipts that apps answer with (a certificate's status, a deposit's certificate) are made from
the same items, against the same checkpoint.

Items of a snapshot are bounded by their bytes (`max_bytes`, least recently used go first).
A new snapshot of the same checkpoint (same size, same cosignatures: the ledger did not grow
meanwhile) keeps the items of the one before, whose proofs still hold: at 10^6 packs a market's
scans spread over 2,000 lots, and a second's snapshot saw each lot about once, so nearly every
scan proved its lot's commitment again (docs/benchmarks.md). Items are read afresh at least
every `reread_after` seconds all the same, so an edited row shows on pages (and fails their
verification) within that time, as with every page before this cache.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from ledger.core.canonical import parse_strict
from ledger.core.policy import LogPolicy
from ledger.core.receipt import Receipt
from ledger.errors import NotFound
from ledger.service.bundles import page_bundle, policy_json
from ledger.service.proofs import (
    best_checkpoint,
    checkpoint_with_cosignatures,
    inclusion_proofs,
    receipts_for,
)
from ledger.storage.repository import MemberRow, Repository

Item = dict[str, Any]  # {"index": i, "entry": base64, "proof": [base64]}, as bundles.py ships


@dataclass
class _Snapshot:
    size: int
    note: str
    made_at: float  # time.monotonic()
    governance: list[Item]
    members: dict[str, MemberRow]
    items: OrderedDict[int, Item] = field(default_factory=OrderedDict)
    item_bytes: int = 0
    items_since: float = 0.0  # time.monotonic() when the oldest item could have been read


def _item_size(item: Item) -> int:
    return len(item["entry"]) + sum(len(p) for p in item["proof"]) + 64


def _receipt(item: Item, note: str) -> Receipt:
    proof = tuple(base64.b64decode(p) for p in item["proof"])
    entry = parse_strict(base64.b64decode(item["entry"]))
    return Receipt(entry, int(item["index"]), proof, note)


def _items(conn: Connection, indexes: list[int], size: int) -> list[Item]:
    """Bundle items for entries `indexes` (sorted) against the tree of `size`: two queries."""
    if not indexes:
        return []
    data = Repository(conn).entry_data(indexes)
    proofs = inclusion_proofs(conn, indexes, size)
    return [
        {
            "index": index,
            "entry": base64.b64encode(data[index]).decode(),
            "proof": [base64.b64encode(p).decode() for p in proof],
        }
        for index, proof in zip(indexes, proofs, strict=True)
    ]


class BundleCache:
    """`bundle(conn, indexes)` answers what `bundles.page_bundle` does, from a snapshot."""

    def __init__(
        self,
        policy: LogPolicy,
        *,
        ttl: float = 1.0,
        max_bytes: int = 32 << 20,
        reread_after: float = 60.0,
    ) -> None:
        self.policy = policy
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.reread_after = reread_after
        self._policy_json = policy_json(policy)
        self._snapshots: dict[Engine, _Snapshot] = {}
        self._lock = threading.Lock()

    def bundle(self, conn: Connection, indexes: Iterable[int]) -> dict[str, Any]:
        """The bundle for entries `indexes` and every governance entry; raises NotFound if an
        entry is beyond the latest checkpoint."""
        wanted = sorted(set(indexes))
        try:
            snapshot = self._snapshot(conn, wanted[-1] + 1 if wanted else 0)
            governance = {item["index"] for item in snapshot.governance}
            mine = self._cached_items(conn, snapshot, [i for i in wanted if i not in governance])
        except NotFound:
            return page_bundle(conn, wanted, self.policy)  # see _ahead_of_transaction
        entries = sorted([*snapshot.governance, *mine], key=lambda item: int(item["index"]))
        return {"checkpoint": snapshot.note, "policy": self._policy_json, "entries": entries}

    def receipts(self, conn: Connection, indexes: Sequence[int]) -> list[Receipt]:
        """Receipts for entries `indexes` (in that order), as `proofs.receipts_for` makes them
        with this cache's policy, from the snapshot's items: the checkpoint is at most `ttl`
        older than the newest final one holding the entries. NotFound if one is beyond it."""
        wanted = sorted(set(indexes))
        try:
            snapshot = self._snapshot(conn, wanted[-1] + 1 if wanted else 0)
            found = {int(item["index"]): item for item in snapshot.governance}
            others = [i for i in wanted if i not in found]
            found.update(zip(others, self._cached_items(conn, snapshot, others), strict=True))
        except NotFound:
            return receipts_for(conn, indexes, self.policy)  # see _ahead_of_transaction
        return [_receipt(found[i], snapshot.note) for i in indexes]

    # _ahead_of_transaction: a snapshot another thread made after `conn`'s transaction began
    # can hold a tree this transaction does not see yet; the items it has not proven then cannot
    # be read here (NotFound). The caller's own transaction answers instead, as without the
    # cache: NotFound again only for an entry truly beyond its latest checkpoint.

    def members(self, conn: Connection) -> dict[str, MemberRow]:
        """The members by org, as of this engine's snapshot (at most `ttl` seconds old): the
        server's statement for names and roles on pages, not what a bundle proves."""
        return self._snapshot(conn, 0).members

    def _snapshot(self, conn: Connection, need: int) -> _Snapshot:
        with self._lock:
            current = self._snapshots.get(conn.engine)
        fresh = current is not None and time.monotonic() - current.made_at < self.ttl
        if current is not None and fresh and current.size >= need:
            return current
        made_at = time.monotonic()
        final = best_checkpoint(conn, self.policy, max(need, 1))
        size, note = checkpoint_with_cosignatures(conn, final)
        if size < need:
            raise NotFound(f"some entries are not in the tree of size {size}")
        repo = Repository(conn)
        governance = _items(conn, repo.governance_indexes(size), size)
        members = {m.org: m for m in repo.all_members()}
        snapshot = _Snapshot(size, note, made_at, governance, members, items_since=made_at)
        if current is not None and current.note == note:
            with self._lock:
                if made_at - current.items_since < self.reread_after:
                    snapshot.items = OrderedDict(current.items)
                    snapshot.item_bytes = current.item_bytes
                    snapshot.items_since = current.items_since
        if final is not None:  # one not final yet serves only this page: quorum is near
            with self._lock:
                self._snapshots[conn.engine] = snapshot
        return snapshot

    def _cached_items(
        self, conn: Connection, snapshot: _Snapshot, indexes: list[int]
    ) -> list[Item]:
        with self._lock:
            found = {i: snapshot.items[i] for i in indexes if i in snapshot.items}
            for i in found:
                snapshot.items.move_to_end(i)
        missing = [i for i in indexes if i not in found]
        if missing:
            read = _items(conn, missing, snapshot.size)
            with self._lock:
                for item in read:
                    self._keep(snapshot, item)
            found.update((item["index"], item) for item in read)
        return [found[i] for i in indexes]

    def _keep(self, snapshot: _Snapshot, item: Item) -> None:
        if item["index"] in snapshot.items:
            return
        snapshot.items[item["index"]] = item
        snapshot.item_bytes += _item_size(item)
        while snapshot.item_bytes > self.max_bytes and snapshot.items:
            _, dropped = snapshot.items.popitem(last=False)
            snapshot.item_bytes -= _item_size(dropped)
