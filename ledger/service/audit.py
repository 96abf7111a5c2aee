"""The audit (DESIGN 7): re-verify everything from raw rows, streaming, and name the first fault.

Checked, in log order: every block header (canonical bytes, stored hash, link to its parent,
first/count/size), every entry (canonical bytes, tx_id, columns, signature by a key its org held
at that index, role, body, nonce row, and for governance entries the live pipeline's own state
rules, replayed with `GovernanceState`), every stored Merkle node against the one recomputed from
the entries, every block root, every checkpoint (log signature, origin, size, root) and
cosignature. Finally the row counts, so extra rows are caught as well as missing ones, and the
`members` and `member_keys` tables against the membership the governance entries define.

Memory is flat in the ledger size: entries and blocks are read in pages, the tree is a compact
range, and only the membership (a few keys per org) is held.

Both cores: what can be checked from an entry's row alone (canonical envelope: strict parse,
schema and canonical bytes; the tx_id, org and type columns; its nonce row; body; leaf hash; and
the signature under the key the entry names, when the auditor already knows that key) runs in a
pool of worker processes, a page of rows per task, at most a few pages ahead. A worker answers
compactly (`_Examined`): the leaf hashes, and per entry the signer it verified under or
UNSETTLED. The main process walks the log in order as before, doing only what needs the log's
state (the key held at that index, active, role; the tree and stored nodes; blocks and
checkpoints), and takes an entry's findings where the sequential audit would have made them, so
the first fault is named exactly as one process names it: anything UNSETTLED (a fault of any
kind, genesis, governance, a key added within the pages in flight) is checked in the main
process by the sequential code.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from multiprocessing.pool import AsyncResult, Pool
from typing import Any, NamedTuple, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, func, select

from ledger.core import merkle
from ledger.core.block import BlockError, BlockHeader, check_link, decode_header
from ledger.core.canonical import parse_strict
from ledger.core.envelope import Envelope, canonical_envelope, envelope_from_dict
from ledger.core.keys import Verifier, parse_vkey
from ledger.core.note import open_checkpoint, parse_note, verified_signers
from ledger.core.policy import MemberDirectory, parse_members
from ledger.errors import LedgerError, StateConflict
from ledger.service.app import Registry
from ledger.service.membership import GOVERNANCE_APP, GenesisBody, GovernanceState
from ledger.storage.engine import is_sqlite
from ledger.storage.repository import KeyRow, MemberRow, Repository, StoredEntry
from ledger.storage.tables import (
    SPAN_LEVELS,
    UPPER_SPAN,
    blocks,
    checkpoints,
    cosignatures,
    entries,
    node_span,
    nodes,
    nonces,
)

PAGE = 500
GOVERNANCE_TYPES = frozenset(rt.name for rt in GOVERNANCE_APP.record_types)
Progress = Callable[[int, int], None]
AHEAD = 2  # pages in flight per worker: enough to keep them busy, few enough for flat memory


# --- what a worker checks: an entry's bytes alone ---------------------------------------------

EntryRow = tuple[int, str, str, str, bytes, int]  # the columns of StoredEntry, in its order
Nonces = dict[int, tuple[str, str]]  # entry index -> (org, nonce) of its nonce row
Signer = tuple[str, str, str, bytes]  # (org, key id, record type, public key)
UNSETTLED = 255  # a verdict: the main process checks this entry itself


class _Examined(NamedTuple):
    """A page of entries as a worker found them, compact so little crosses the pipe: the leaf
    hashes (32 bytes each, concatenated); per entry an index into `signers`, the signer under
    whose key the entry verified with every other check from its row alone passed, or
    UNSETTLED."""

    leaves: bytes
    verdicts: bytes
    signers: list[Signer]


_REGISTRY: Registry | None = None  # set before the workers fork; they inherit it
_PUBLIC_KEYS: dict[bytes, Ed25519PublicKey] = {}


def _examine(rows: list[EntryRow], nonces: Nonces, keys: dict[tuple[str, str], bytes]) -> _Examined:
    """Check a page of entries from their rows: canonical envelope (strict parse, schema,
    canonical bytes), columns, nonce row, body, leaf hash, and the signature under
    `keys[(org, key id)]` when listed. Genesis and governance entries are left UNSETTLED: they
    change the log's state, which only the walk in order has."""
    registry = _REGISTRY
    assert registry is not None
    leaves: list[bytes] = []
    verdicts = bytearray(len(rows))
    to_verify: list[tuple[int, bytes, Envelope]] = []
    for at, (idx, tx_id, org, type_, data, _) in enumerate(rows):
        leaves.append(merkle.leaf_hash(data))
        verdicts[at] = UNSETTLED
        envelope = canonical_envelope(data)
        if (
            envelope is None
            or idx == 0
            or type_ in GOVERNANCE_TYPES
            or (envelope.tx_id, envelope.org, envelope.type) != (tx_id, org, type_)
            or nonces.get(idx) != (org, envelope.nonce)
        ):
            continue
        public = keys.get((org, envelope.key))
        if public is None:
            continue
        try:
            registry.parse_body(envelope)
        except LedgerError:
            continue
        to_verify.append((at, public, envelope))
    # Signatures after the parsing, back to back: a verification costs less with OpenSSL's
    # tables still in the cache than between two parses.
    signers: dict[Signer, int] = {}
    for at, public, envelope in to_verify:
        key = _PUBLIC_KEYS.get(public)
        if key is None:
            key = _PUBLIC_KEYS[public] = Ed25519PublicKey.from_public_bytes(public)
        try:
            key.verify(envelope.sig, envelope.signed_message())
        except InvalidSignature:
            continue
        signer = (envelope.org, envelope.key, envelope.type, public)
        found = signers.setdefault(signer, len(signers))
        if found < UNSETTLED:
            verdicts[at] = found
    return _Examined(b"".join(leaves), bytes(verdicts), list(signers))


_Findings = AsyncResult[_Examined] | _Examined


def _worker_signals() -> None:
    """A forked worker inherits its parent's signal handlers. `sealchain demo` turns SIGTERM
    into KeyboardInterrupt; a worker that unwound on it instead of dying let the pool start a
    new worker, which then waited forever for a queue the closing pool held, and
    `Pool.terminate` waited for it (a hung demo test). Workers die on SIGTERM, as the pool
    expects, and leave Ctrl-C to the parent, which stops them."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Examiner:
    """Pages of entries out to the workers (or checked here with `workers` <= 1), their
    findings back in log order; at most AHEAD pages per worker in flight."""

    def __init__(self, registry: Registry, workers: int) -> None:
        global _REGISTRY
        _REGISTRY = registry
        self.pool: Pool | None = None
        self.ahead = 1
        self.froze = False
        if workers > 1:
            self.froze = _freeze_for_fork()
            try:
                self.pool = multiprocessing.get_context("fork").Pool(workers, _worker_signals)
            except BaseException:
                self._unfreeze()
                raise
            self.ahead = AHEAD * workers

    def submit(
        self, rows: list[EntryRow], nonces: Nonces, keys: dict[tuple[str, str], bytes]
    ) -> _Findings:
        if self.pool is None:
            return _examine(rows, nonces, keys)
        return self.pool.apply_async(_examine, (rows, nonces, keys))

    def close(self) -> None:
        try:
            if self.pool is not None:
                self.pool.terminate()
                self.pool.join()
        finally:
            self._unfreeze()

    def _unfreeze(self) -> None:
        if self.froze:
            gc.unfreeze()
            self.froze = False


def _freeze_for_fork() -> bool:
    """Keep the objects the workers inherit shared with the parent: a full collection, in any
    of the processes, writes to every object it walks, so each process got its own copy of the
    pages they sit on (at 10^6 entries all three grew by about 30 MB at once, some 15 s in; an
    audit at 10^5 ended before its first). Frozen, the collector leaves them alone. Returns
    whether to unfreeze when done: not in a process that froze its own objects for good (a
    server, `freeze_startup_objects`)."""
    ours = gc.get_freeze_count() == 0
    gc.collect()
    gc.freeze()
    return ours


class _Fault(Exception):
    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where
        self.detail = detail


@dataclass
class AuditResult:
    ok: bool
    entries: int = 0
    blocks: int = 0
    checkpoints: int = 0
    cosignatures: int = 0
    first_bad: str | None = None  # e.g. "entry 17: signature does not verify"
    where: str | None = None  # "entry 17", "block 3", "table nodes"
    members: MemberDirectory | None = None  # member keys as the entries define them

    def check_members_file(self, text: str) -> None:
        """Fail unless members.txt says exactly what the replayed governance entries say: a
        verifier trusting a stale or edited file would accept a revoked key."""
        if self.members is None or not self.ok:
            return
        try:
            claimed = parse_members(text)
        except LedgerError as e:
            self.ok, self.where, self.first_bad = False, "members.txt", f"members.txt: {e.detail}"
            return

        def keyset(d: MemberDirectory) -> set[tuple[str, str, int | None]]:
            return {(k.org, k.verifier.vkey, k.revoked_at) for k in d.keys}

        if keyset(claimed) != keyset(self.members):
            self.ok, self.where = False, "members.txt"
            self.first_bad = (
                "members.txt: differs from the keys and revocations the ledger's governance "
                "entries define; rewrite it with `sealchain reindex`"
            )


# What the audit reads per page, run on the driver's cursor: going through SQLAlchemy's rows
# cost this process more than everything else it does per entry.
_ENTRIES = (
    "SELECT idx, tx_id, org, type, data, block_height FROM entries WHERE idx > ? "
    "ORDER BY idx LIMIT ?"
)
_NONCES = "SELECT idx, org, nonce FROM nonces WHERE idx >= ? AND idx <= ?"
# Nodes are keyed (span, level, idx): a page's nodes below SPAN_LEVELS lie in the spans of its
# leaves (one range, all their levels at once); above, one key range per level. A range on the
# span would leave level and idx to a scan of every upper node.
_LOW_NODES = "SELECT level, idx, hash FROM nodes WHERE span >= ? AND span <= ?"
_UPPER_NODES = (
    f"SELECT idx, hash FROM nodes WHERE span = {UPPER_SPAN} AND level = ? AND idx >= ? AND idx <= ?"
)


def _driver_rows(conn: Connection, sql: str, params: tuple[int, ...]) -> list[Any]:
    """Rows of `sql` (written with `?` placeholders) as the driver's tuples, in the same
    transaction as `conn`."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


class _Auditor:
    def __init__(
        self,
        conn: Connection,
        registry: Registry,
        log_keys: Sequence[Verifier],
        progress: Progress | None,
        examiner: _Examiner,
    ) -> None:
        self.conn = conn
        self.examiner = examiner
        self.repo = Repository(conn)
        self.registry = registry
        self.trusted_logs = list(log_keys)
        self.progress = progress
        self.governance = GovernanceState()  # replayed from the entries, never the tables
        self.tree = merkle.CompactRange()
        self.result = AuditResult(ok=True)
        self.total = int(conn.execute(select(func.count()).select_from(entries)).scalar_one())
        # The page being walked: its rows, each with its leaf hash and, when a worker settled
        # every check from the row alone, the signer whose key it verified under.
        self._page: deque[tuple[EntryRow, bytes, Signer | None]] = deque()
        self._page_nodes: dict[merkle.Coord, bytes] = {}
        self._page_nonces: Nonces = {}
        self._in_flight: deque[tuple[list[EntryRow], Nonces, _Findings]] = deque()
        self._signers: dict[tuple[str, str, str], tuple[bytes, int, int | None]] = {}
        self._read_after = -1  # the last entry index read from the database
        self._read_all = False
        self._keys: dict[tuple[str, str], bytes] = {}
        self._keys_known = -1  # len(governance.keys) when _keys was built

    # --- streaming -------------------------------------------------------------------------------

    def _blocks(self) -> Iterator[tuple[int, bytes, bytes, int]]:
        after = -1
        while True:
            rows = self.conn.execute(
                select(blocks.c.height, blocks.c.header, blocks.c.hash, blocks.c.size)
                .where(blocks.c.height > after)
                .order_by(blocks.c.height)
                .limit(PAGE)
            ).all()
            yield from ((r.height, r.header, r.hash, r.size) for r in rows)
            if len(rows) < PAGE:
                return
            after = rows[-1].height

    def _entry(self, idx: int) -> tuple[EntryRow, bytes, Signer | None]:
        if not self._page:
            self._load_page(idx)
        if not self._page or self._page[0][0][0] != idx:
            found = self._page[0][0][0] if self._page else None
            raise _Fault(f"entry {idx}", f"is missing (next stored entry is {found})")
        return self._page.popleft()

    def _known_keys(self) -> dict[tuple[str, str], bytes]:
        """Public keys by (org, key id), for the workers: keys are only ever added."""
        if len(self.governance.keys) != self._keys_known:
            self._keys = {
                (row.org, row.key_id): parse_vkey(row.vkey).public_key
                for row in self.governance.keys.values()
            }
            self._keys_known = len(self.governance.keys)
        return self._keys

    def _read_ahead(self) -> None:
        """Hand the next pages of entries to the examiner, up to its limit; until genesis has
        named the first keys, only the one page the walk needs now."""
        while not self._read_all and len(self._in_flight) < (
            self.examiner.ahead if self.governance.keys else 1
        ):
            self._read_page()

    def _read_page(self) -> None:
        # The first page is genesis alone: read before any key is known, a page's signatures
        # would all be checked in this process.
        limit = PAGE if self._read_after >= 0 else 1
        page: list[EntryRow] = _driver_rows(self.conn, _ENTRIES, (self._read_after, limit))
        self._read_all = len(page) < limit and self._read_after >= 0
        if not page:
            self._read_all = True
            return
        if type(page[0][4]) is not bytes:  # PostgreSQL's bytea on some drivers: a memoryview
            page = [(*row[:4], bytes(row[4]), row[5]) for row in page]
        self._read_after = page[-1][0]
        nonces = {
            idx: (org, nonce)
            for idx, org, nonce in _driver_rows(self.conn, _NONCES, (page[0][0], page[-1][0]))
        }
        findings = self.examiner.submit(page, nonces, self._known_keys())
        self._in_flight.append((page, nonces, findings))

    def _load_page(self, start: int) -> None:
        self._read_ahead()
        if not self._in_flight:
            self._page = deque()
            return
        page, self._page_nonces, findings = self._in_flight.popleft()
        found = findings if isinstance(findings, _Examined) else findings.get()
        leaves, signers = found.leaves, found.signers
        self._page = deque(
            (row, leaves[32 * at : 32 * at + 32], None if v == UNSETTLED else signers[v])
            for at, (row, v) in enumerate(zip(page, found.verdicts, strict=True))
        )
        if self.governance.keys:  # before genesis is walked, a page would go without keys
            self._read_ahead()  # the workers check the next pages while this one is walked
        end = start + len(page)  # nodes completing in leaves [start, end)
        # Every stored node of the page's spans, some completed in pages before or after it:
        # the walk looks each node up by its coordinates, so those are never compared.
        spans = (node_span(0, start), node_span(0, end - 1))
        self._page_nodes = {
            (level, i): bytes(h) for level, i, h in _driver_rows(self.conn, _LOW_NODES, spans)
        }
        level = SPAN_LEVELS
        while (1 << level) <= end:
            first, last = (
                (start + 1 + (1 << level) - 1) // (1 << level) - 1,
                end // (1 << level) - 1,
            )
            if last >= first:
                bounds = (level, max(first, 0), last)
                for i, h in _driver_rows(self.conn, _UPPER_NODES, bounds):
                    self._page_nodes[(level, i)] = bytes(h)
            level += 1

    # --- checks ----------------------------------------------------------------------------------

    def run(self) -> AuditResult:
        prev: BlockHeader | None = None
        for height, header_bytes, stored_hash, size_col in self._blocks():
            where = f"block {height}"
            expected_height = 0 if prev is None else prev.height + 1
            if height != expected_height:
                raise _Fault(f"block {expected_height}", "is missing")
            try:
                header = decode_header(header_bytes)
                check_link(prev, header)
            except BlockError as e:
                raise _Fault(where, str(e)) from e
            if header.height != height:
                raise _Fault(where, f"header says height {header.height}")
            if header.hash() != stored_hash:
                raise _Fault(where, "stored block hash does not match the header")
            if size_col != header.size:
                raise _Fault(where, "size column does not match the header")
            for idx in range(header.first, header.size):
                self._check_entry(*self._entry(idx), height)
            if self.tree.root() != header.root:
                raise _Fault(where, "root does not match the root recomputed from its entries")
            self._check_checkpoint(header)
            self.result.blocks += 1
            prev = header
        if prev is None:
            raise _Fault("block 0", "is missing: the ledger has no genesis block")
        self._check_counts(prev)
        self._check_membership_tables()
        return self.result

    def _check_entry(self, row: EntryRow, leaf: bytes, signer: Signer | None, height: int) -> None:
        """Take a worker's findings when they settle every check that needs no log state and
        the rest pass; anything else (a fault, genesis, governance, a key the worker was not
        given) is checked here from the bytes, in the sequential order, naming the same fault."""
        idx = row[0]
        if signer is not None and row[5] == height and self._may_sign(signer, idx):
            self._append_leaf(leaf, height)
            self._counted(idx)
        else:
            self._check_entry_here(StoredEntry(*row), height)
            if idx == 0:  # genesis named the first keys: the workers can judge signatures now
                self._read_ahead()

    def _may_sign(self, signer: Signer, idx: int) -> bool:
        """The key that signed was the org's at `idx`, and the org was active with the role.
        Remembered per (org, key, type) until the next governance entry changes the answer."""
        org, key, type_, public = signer
        found = self._signers.get((org, key, type_))
        if found is None:
            row = self.governance.keys.get((org, key))
            verifier = self.governance.key_at(org, key, idx)
            member = self.governance.members.get(org)
            if (
                row is None
                or verifier is None
                or member is None
                or not self.governance.is_active(org)
                or not self.registry.write_policy.permits(type_, member.roles)
            ):
                return False
            found = (verifier.public_key, row.added_at, row.revoked_at)
            self._signers[(org, key, type_)] = found
        held, added, revoked = found
        return held == public and added <= idx and (revoked is None or idx < revoked)

    def _append_leaf(self, leaf: bytes, height: int) -> None:
        for level, i, h in self.tree.append(leaf):
            if self._page_nodes.get((level, i)) != h:
                first, last = i << level, ((i + 1) << level) - 1
                span = f"entry {first}" if level == 0 else f"entries {first}-{last}"
                raise _Fault(
                    f"block {height}",
                    f"stored Merkle node ({level}, {i}) over {span} is missing or differs "
                    "from the hash recomputed from the entries",
                )

    def _counted(self, idx: int) -> None:
        self.result.entries += 1
        if self.progress and (idx % 1000 == 0 or idx + 1 == self.total):
            self.progress(idx + 1, self.total)

    def _check_entry_here(self, stored: StoredEntry, height: int) -> None:
        idx, where = stored.idx, f"entry {stored.idx}"
        if stored.block_height != height:
            raise _Fault(where, f"is stored in block {stored.block_height}, belongs to {height}")
        try:
            envelope = envelope_from_dict(parse_strict(stored.data))
        except LedgerError as e:
            raise _Fault(where, f"is not a valid envelope: {e.detail}") from e
        if envelope.raw != stored.data:
            raise _Fault(where, "bytes are not the canonical encoding of the envelope")
        if (envelope.tx_id, envelope.org, envelope.type) != (stored.tx_id, stored.org, stored.type):
            raise _Fault(where, "tx_id, org or type column does not match the entry bytes")
        self._check_signature(envelope, idx, where)
        if self._page_nonces.get(idx) != (envelope.org, envelope.nonce):
            raise _Fault(where, "nonce row is missing or does not match the entry")
        self._append_leaf(merkle.leaf_hash(stored.data), height)
        self._counted(idx)

    def _check_signature(self, envelope: Envelope, idx: int, where: str) -> None:
        try:
            record_type, body = self.registry.parse_body(envelope)
        except LedgerError as e:
            raise _Fault(where, e.detail) from e
        if idx == 0:
            if record_type.name != "ledger.genesis" or not isinstance(body, GenesisBody):
                raise _Fault(where, "the first entry is not ledger.genesis")
            self._apply_governance(envelope, idx, body, where)  # genesis defines its own signer
            if self.trusted_logs and self.governance.log not in self.trusted_logs:
                raise _Fault(where, "genesis names a log key other than the trusted policy's")
        verifier = self.governance.key_at(envelope.org, envelope.key, idx)
        if verifier is None:
            key = self.governance.keys.get((envelope.org, envelope.key))
            if key is None or key.added_at > idx or key.revoked_at is None:
                raise _Fault(where, f"key {envelope.key} was not a key of {envelope.org!r} here")
            raise _Fault(where, f"key {envelope.key} was revoked at index {key.revoked_at}")
        if not verifier.verify(envelope.signed_message(), envelope.sig):
            raise _Fault(where, "signature does not verify")
        if idx == 0:
            return
        if not self.governance.is_active(envelope.org):
            raise _Fault(where, f"org {envelope.org!r} was not an active member here")
        if not self.registry.write_policy.permits(
            record_type.name, self.governance.members[envelope.org].roles
        ):
            raise _Fault(where, f"org {envelope.org!r} lacked the role for {record_type.name}")
        if record_type.name in GOVERNANCE_TYPES:
            self._apply_governance(envelope, idx, body, where)

    def _apply_governance(self, envelope: Envelope, idx: int, body: BaseModel, where: str) -> None:
        """Pipeline step (9) for governance, by the live pipeline's own rules: a ledger whose
        entries break one (a second member.add, a key left to sign its own revocation, no admin
        left) was not written by it, whatever the signatures say."""
        self._signers.clear()  # keys, members and roles may change here
        try:
            self.governance.apply(idx, envelope.org, envelope.key, body)
        except StateConflict as e:
            raise _Fault(where, f"{envelope.type} breaks a governance rule: {e.detail}") from e

    def _check_checkpoint(self, header: BlockHeader) -> None:
        where = f"block {header.height}"
        found = self.repo.checkpoint(header.size)
        if found is None:
            raise _Fault(where, f"checkpoint for size {header.size} is missing")
        stored_height = self.conn.execute(
            select(checkpoints.c.block_height).where(checkpoints.c.size == header.size)
        ).scalar_one()
        if stored_height != header.height:
            raise _Fault(
                where, f"checkpoint for size {header.size} is filed under block {stored_height}"
            )
        log = self.governance.log
        assert log is not None  # set by genesis, which is entry 0 of block 0
        try:
            note, checkpoint = open_checkpoint(found[1], log)
        except LedgerError as e:
            raise _Fault(where, f"checkpoint for size {header.size}: {e.detail}") from e
        if (checkpoint.size, checkpoint.root) != (header.size, header.root):
            raise _Fault(where, "checkpoint size or root does not match the block")
        self.result.checkpoints += 1
        for line in self.repo.cosignature_lines(header.size):
            try:
                cosigned = parse_note(note.text + "\n" + line.rstrip("\n") + "\n")
                if not verified_signers(cosigned, self.governance.witnesses.values()):
                    raise _Fault(where, "cosignature is not by a witness of the consortium")
            except LedgerError as e:
                raise _Fault(where, f"cosignature does not verify: {e.detail}") from e
            self.result.cosignatures += 1

    def _check_counts(self, last: BlockHeader) -> None:
        def count(table: object) -> int:
            return int(self.conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]

        n = last.size
        if count(entries) != n:
            raise _Fault(f"entry {n}", "is stored beyond the last block")
        expected_nodes = sum(n >> level for level in range(n.bit_length()))
        if count(nodes) != expected_nodes:
            raise _Fault("table nodes", f"holds {count(nodes)} rows, the tree has {expected_nodes}")
        if count(nonces) != n:
            raise _Fault("table nonces", f"holds {count(nonces)} rows for {n} entries")
        if count(checkpoints) != self.result.blocks:
            raise _Fault("table checkpoints", "holds checkpoints that belong to no block")
        if count(cosignatures) != self.result.cosignatures:
            raise _Fault("table cosignatures", "holds cosignatures for unknown checkpoints")

    def _check_membership_tables(self) -> None:
        """The live checks read members and keys from these tables, not from the entries: an
        edited row (a key added or un-revoked, a role granted) would let the server accept what
        the governance entries forbid, so each row must be the one the entries define."""
        _same_rows(
            "table members",
            {m.org: m for m in self.repo.all_members()},
            self.governance.members,
        )
        _same_rows(
            "table member_keys",
            {f"{k.org}/{k.key_id}": k for k in self.repo.all_keys()},
            {f"{k.org}/{k.key_id}": k for k in self.governance.keys.values()},
        )


Row = TypeVar("Row", MemberRow, KeyRow)


def _same_rows(where: str, stored: dict[str, Row], replayed: dict[str, Row]) -> None:
    for name in sorted(stored.keys() | replayed.keys()):
        found, expected = stored.get(name), replayed.get(name)
        if found == expected:
            continue
        if found is None:
            raise _Fault(where, f"has no row for {name}, which the governance entries define")
        if expected is None:
            raise _Fault(where, f"holds a row for {name} that no governance entry defines")
        differing = [
            f.name for f in fields(expected) if getattr(found, f.name) != getattr(expected, f.name)
        ]
        raise _Fault(
            where,
            f"row for {name} differs from the governance entries in {', '.join(differing)}; "
            "rebuild it with `sealchain reindex`",
        )


def audit(
    engine: Engine,
    registry: Registry,
    *,
    log_keys: Sequence[Verifier] = (),
    progress: Progress | None = None,
    workers: int | None = None,
) -> AuditResult:
    """Re-verify the whole ledger; the result names the first fault (`first_bad`) if any.

    `log_keys` are the verifier's trusted log keys (policy.txt may list an old and a new one);
    genesis must name one of them, and every checkpoint must be signed by the key it names.
    `workers` processes check entries from their bytes (default: one per usable core; 0 or 1:
    all in this process); the result is the same either way.
    """
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    with engine.connect() as conn:
        if not is_sqlite(conn):
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            examiner = _Examiner(registry, workers)
            try:
                auditor = _Auditor(conn, registry, log_keys, progress, examiner)
                result = auditor.run()
                result.members = auditor.governance.directory()
                return result
            except _Fault as fault:
                result = auditor.result
                result.ok = False
                result.first_bad = str(fault)
                result.where = fault.where
                return result
            finally:
                examiner.close()
