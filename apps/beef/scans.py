"""How many different places a pack's code was scanned from: a warning sign of copied labels,
kept off the ledger, without personal data, and hard for one client to inflate.

A scan counts once per source and code. A source is the client's network address, kept only
as a keyed hash (HMAC-SHA256 with a per-ledger secret, cut to 64 bits): the same phone
reloading a page is one source; the count cannot be turned back into addresses without the
ledger's log key. A source is counted for at most RATE_PER_MINUTE codes a minute, so one client
walking through many codes does not raise them all. Behind a reverse proxy, the server must be
told to trust its forwarded address (docs/beef.md), or every scan comes from the proxy.

What the count cannot stop: many clients working together (a botnet), or a copied label
scanned only once. The page says what the count means and that it is the server's statement.

Counts wait in memory for up to a second and are written in one short off-ledger write, so a
burst of scans does not queue behind the block writer for an fsync each (the scan page claims
the write, `claim_flush`, and runs it on a thread after its answer); they are kept per
engine (a process serving several ledgers keeps them apart) and flushed on shutdown.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    bindparam,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.sql.elements import BindParameter

from apps.beef.tables import scan_sources
from ledger.core.envelope import format_ts
from ledger.plugin import (
    N_,
    DriverQuery,
    MinuteRateLimit,
    client_source,
    utc_now,
    write_transaction,
)

SCAN_WARNING_THRESHOLD = int(os.environ.get("SEALCHAIN_BEEF_SCAN_THRESHOLD", "10"))
AFTER_SALE_THRESHOLD = 2  # the buyer's phone at the till and at home: two networks
RATE_PER_MINUTE = 30
SECRET_PURPOSE = "beef/scan-sources"  # noqa: S105 - names a derived secret, is not one


source_of = client_source

# A code's stored count and which of its waiting sources are stored already, in one statement
# built once and run on the driver (DriverQuery): the aggregate row (source NULL), then a row
# per stored waiting source. Building a select and its cache key per scan cost more than
# SQLite's answer, and so did a second statement; an expanding IN list cost SQLAlchemy a
# compilation per scan. So the waiting sources go in WAITING_SLOTS fixed parameters, NULL for
# an unused one (never equal to a source); a code with more waiting sources (scanned from many
# networks within a second) asks for the rest WAITING_SLOTS at a time.
WAITING_SLOTS = 8
_WAITING: list[BindParameter[str]] = [bindparam(f"w{i}") for i in range(WAITING_SLOTS)]
_STORED_WAITING = select(
    scan_sources.c.source.label("source"),
    literal(1).label("sources"),
    cast(scan_sources.c.after_sale, Integer).label("after_sale"),
    null().label("first_at"),
).where(scan_sources.c.uri == bindparam("uri"), scan_sources.c.source.in_(_WAITING))
_SOURCES = DriverQuery(
    union_all(
        select(
            null().label("source"),
            func.count().label("sources"),
            func.coalesce(func.sum(cast(scan_sources.c.after_sale, Integer)), 0).label(
                "after_sale"
            ),
            func.min(scan_sources.c.first_at).label("first_at"),
        ).where(scan_sources.c.uri == bindparam("uri")),
        _STORED_WAITING,
    )
)
_MORE_STORED_WAITING = DriverQuery(_STORED_WAITING)


def _slots(sources: list[str]) -> dict[str, str | None]:
    return {f"w{i}": sources[i] if i < len(sources) else None for i in range(WAITING_SLOTS)}


@dataclass(frozen=True)
class ScanCount:
    sources: int  # different sources that scanned the code
    after_sale: int  # of them, those that scanned it after it was sold
    first_at: str
    counted: bool  # False when this scan was over its source's rate


@dataclass
class _Pending:
    first_at: str
    last_at: str
    after_sale: bool


class ScanCounter:
    def __init__(self, flush_every: float = 1.0, rate_per_minute: int = RATE_PER_MINUTE) -> None:
        self.flush_every = flush_every
        self.rate_per_minute = rate_per_minute
        self._rate = MinuteRateLimit(rate_per_minute)
        # engine -> code -> source -> scan: a scan reads its own code's waiting scans only
        self._pending: dict[Engine, dict[str, dict[str, _Pending]]] = {}
        # What the last flush took, until the next: a scan whose read began before that write
        # committed sees them neither waiting nor stored, and would show too low a count.
        # Counted from here, they are never counted twice (_count skips what is stored).
        self._writing: dict[Engine, dict[str, dict[str, _Pending]]] = {}
        self._lock = threading.Lock()
        self._flushed = time.monotonic()

    def record(
        self, engine: Engine, conn: Connection, uri: str, source: str, *, sold: bool
    ) -> ScanCount:
        """Count a scan of `uri` from `source` (source_of) and return the code's count."""
        now = format_ts(utc_now())
        with self._lock:
            counted = self._rate.allow(source)
            pending = self._pending.setdefault(engine, {})
            if counted:
                mine = pending.setdefault(uri, {}).get(source)
                if mine is None:
                    pending[uri][source] = _Pending(now, now, sold)
                else:
                    mine.last_at, mine.after_sale = now, mine.after_sale or sold
            waiting = _merged(self._writing.get(engine, {}).get(uri, {}), pending.get(uri, {}))
        return self._count(conn, uri, waiting, now, counted)

    def claim_flush(self) -> bool:
        """True once every `flush_every` seconds: the caller then calls `flush`, off the
        request (its write waits for the write lock and an fsync), and no other caller does
        meanwhile."""
        with self._lock:
            if time.monotonic() - self._flushed < self.flush_every:
                return False
            self._flushed = time.monotonic()
            return True

    @staticmethod
    def _count(
        conn: Connection, uri: str, waiting: dict[str, _Pending], now: str, counted: bool
    ) -> ScanCount:
        """Stored sources plus those waiting in memory, each once."""
        sources, after_sale, first = 0, 0, None
        stored: dict[str, bool] = {}  # waiting sources already written: after the sale?
        names = list(waiting)
        rows = _SOURCES.rows(conn, uri=uri, **_slots(names[:WAITING_SLOTS]))
        for more in range(WAITING_SLOTS, len(names), WAITING_SLOTS):
            chunk = names[more : more + WAITING_SLOTS]
            rows += _MORE_STORED_WAITING.rows(conn, uri=uri, **_slots(chunk))
        for row in rows:
            if row.source is None:
                sources, after_sale, first = row.sources, row.after_sale, row.first_at
            else:
                stored[row.source] = bool(row.after_sale)
        for source, pending in waiting.items():
            if source not in stored:
                sources += 1
                after_sale += int(pending.after_sale)
            elif pending.after_sale and not stored[source]:
                after_sale += 1
            first = min(first or pending.first_at, pending.first_at)
        return ScanCount(sources, after_sale, first or now, counted)

    def flush(self, engine: Engine) -> None:
        """Write this engine's waiting scans in one write transaction; on failure they wait
        for the next flush instead of being lost."""
        with self._lock:
            pending = self._pending.pop(engine, {})
            self._writing[engine] = pending
            self._flushed = time.monotonic()
        if not pending:
            return
        try:
            with write_transaction(engine) as conn:
                for uri, scans in pending.items():
                    for source, scan in scans.items():
                        self._write(conn, uri, source, scan)
        except Exception:
            self._put_back(engine, pending)
            raise

    @staticmethod
    def _write(conn: Connection, uri: str, source: str, scan: _Pending) -> None:
        key = (scan_sources.c.uri == uri) & (scan_sources.c.source == source)
        values: dict[str, object] = {"last_at": scan.last_at}
        if scan.after_sale:
            values["after_sale"] = True
        if conn.execute(update(scan_sources).where(key).values(**values)).rowcount == 0:
            conn.execute(
                insert(scan_sources).values(
                    uri=uri,
                    source=source,
                    first_at=scan.first_at,
                    last_at=scan.last_at,
                    after_sale=scan.after_sale,
                )
            )

    def _put_back(self, engine: Engine, unwritten: dict[str, dict[str, _Pending]]) -> None:
        with self._lock:
            pending = self._pending.setdefault(engine, {})
            for uri, scans in unwritten.items():
                waiting = pending.setdefault(uri, {})
                for source, scan in scans.items():
                    newer = waiting.get(source)
                    if newer is not None:  # scanned again while the write was failing
                        scan.last_at, scan.after_sale = (
                            newer.last_at,
                            scan.after_sale or newer.after_sale,
                        )
                    waiting[source] = scan


def _merged(older: dict[str, _Pending], newer: dict[str, _Pending]) -> dict[str, _Pending]:
    """One code's scans by source from two sets (being written, then waiting), each once."""
    if not older:
        return dict(newer)
    merged = dict(older)
    for source, scan in newer.items():
        was = merged.get(source)
        merged[source] = (
            scan
            if was is None
            else _Pending(was.first_at, scan.last_at, was.after_sale or scan.after_sale)
        )
    return merged


SCANS = ScanCounter()


def clone_warning(count: ScanCount, sold: bool) -> tuple[str, dict[str, int]] | None:
    """The warning a scan page shows, as (message, values) for the page's language."""
    if sold and count.after_sale > AFTER_SALE_THRESHOLD:
        return (
            N_(
                "This pack was sold, yet its code has since been scanned from %(n)s different "
                "networks. The label may have been copied: check the seal and where you bought it."
            ),
            {"n": count.after_sale},
        )
    if count.sources > SCAN_WARNING_THRESHOLD:
        return (
            N_(
                "This code has been scanned from %(n)s different networks, more than one pack "
                "should be. It may be a copied label."
            ),
            {"n": count.sources},
        )
    return None
