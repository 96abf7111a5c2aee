"""The sequencer: turns checked candidates into blocks, one database transaction per block.

One transaction writes entries, node hashes, the block header, the signed checkpoint, nonces and
every projection, so a block is all there or not there. Blocks from several processes serialise
on the database write lock and read the head inside it, so indexes stay contiguous and the log
never signs two checkpoints for one size.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from ledger.core import merkle
from ledger.core.block import GENESIS_PREV, BlockHeader
from ledger.core.envelope import Envelope, format_ts, parse_envelope, parse_ts
from ledger.core.keys import Signer, Verifier
from ledger.core.note import Checkpoint, sign_note
from ledger.core.receipt import Receipt
from ledger.errors import ConfigError, DuplicateEntry, InputError, LedgerError, StateConflict
from ledger.service import signatures
from ledger.service.app import Registry, SequencedEntry
from ledger.service.pipeline import (
    BlockContext,
    Candidate,
    MemberCache,
    StateView,
    Validator,
    check_genesis,
)
from ledger.storage.engine import read_transaction, write_transaction
from ledger.storage.repository import Repository, StoredEntry

GOVERNANCE_PREFIX = "ledger."
log = logging.getLogger("sealchain.sequencer")


@dataclass(frozen=True)
class Accepted:
    """Where an entry landed; `receipt` when the committer built it with the block's others
    (otherwise build it with ledger.service.proofs.receipt_for)."""

    tx_id: str
    index: int
    block_height: int
    tree_size: int
    receipt: Receipt | None = None
    block_time: str = ""  # the block's time, set when its commit answers (empty when recognised)


Outcome = Accepted | LedgerError


@dataclass(frozen=True)
class BlockResult:
    """What a block commit did. For a committed block, `checkpoint` is its signed note and
    `nodes` and `entries` are what receipts for its own entries are built from without reading
    the database again (ledger.service.proofs.receipts_in_block)."""

    header: BlockHeader | None
    outcomes: list[Outcome]
    checkpoint: str = ""
    nodes: Mapping[merkle.Coord, bytes] = field(default_factory=dict)
    entries: Mapping[int, Envelope] = field(default_factory=dict)


def parse_each(
    items: Sequence[Any], parse: Callable[[Any], Envelope] = parse_envelope
) -> list[Envelope | LedgerError]:
    """Steps (1) and (2) for each raw envelope (or step (2) for each already parsed item, with
    `parse=envelope_from_dict`); failures are returned in place."""
    parsed: list[Envelope | LedgerError] = []
    for item in items:
        try:
            parsed.append(parse(item))
        except InputError as e:
            parsed.append(e)
    return parsed


class _NeedsDatabase(Exception):
    """A cache-only precheck reached a lookup the member cache cannot answer."""


class BlockRefused(Exception):
    """An all-or-nothing block (`commit_block(..., all_or_nothing=True)`) had an entry the
    pipeline refused, so nothing was written: `index` is where that entry would have landed."""

    def __init__(self, index: int, error: LedgerError) -> None:
        super().__init__(f"entry {index} ({error.code}): {error.detail}")
        self.index = index
        self.error = error


Seal = Callable[[BlockHeader], str]
"""Turns a block's header into the signed checkpoint note stored with it."""


class _NothingToCommit(Exception):
    """Raised inside the block transaction to roll it back when no entry was accepted."""

    def __init__(self, error: LedgerError) -> None:
        super().__init__(error.detail)
        self.error = error


def apply_entry(conn: Connection, registry: Registry, entry: SequencedEntry) -> None:
    """Write what an accepted entry changes in its app's projection (nonces are written in
    bulk by the caller)."""
    projection = registry.projection_for(entry.envelope.type)
    if projection is not None:
        projection.apply(conn, entry)


class Sequencer:
    """Cuts and commits blocks. Thread-safe: all state lives in the database."""

    def __init__(
        self,
        engine: Engine,
        registry: Registry,
        validator: Validator,
        log_signer: Signer | None,
        *,
        on_governance: Callable[[], None] | None = None,
        seal: Seal | None = None,
    ) -> None:
        """`log_signer` signs each block's checkpoint. A replica, which holds no log key,
        passes None and a `seal` that returns the log's own signed note for the block (and
        raises, rolling the block back, when the block's root is not the log's)."""
        self.engine = engine
        self.registry = registry
        self.validator = validator
        self._log_signer = log_signer
        self.seal: Seal = seal or self._sign_checkpoint
        # Called after a block with membership or key changes commits (members.txt is rewritten).
        self.on_governance = on_governance
        self.member_cache = MemberCache()
        # Clear while this process holds the database write lock; prechecks wait on it
        # (see `_holding_write_lock`).
        self._write_lock_free = threading.Event()
        self._write_lock_free.set()
        # (size, root, compact range) after this sequencer's last committed block.
        self._edge: tuple[int, bytes, list[tuple[int, int, bytes]]] | None = None

    def _edge_of(self, size: int, root: bytes, repo: Repository) -> merkle.CompactRange:
        """The compact range of the tree at `size`: kept from this sequencer's last block when
        that is still the head (the common case), else read from the stored nodes."""
        edge = self._edge
        if edge is not None and edge[0] == size and edge[1] == root:
            return merkle.CompactRange(size, list(edge[2]))
        return merkle.CompactRange.from_nodes(size, repo.get_nodes(merkle.root_nodes(size)))

    @property
    def log_signer(self) -> Signer:
        if self._log_signer is None:
            raise ConfigError("this sequencer replicates a log: it holds no log key")
        return self._log_signer

    def _sign_checkpoint(self, header: BlockHeader) -> str:
        signer = self.log_signer
        return str(sign_note(Checkpoint(signer.name, header.size, header.root).text(), [signer]))

    def precheck_all(
        self, raws: Sequence[bytes], *, recognise_first: bool = False
    ) -> list[Candidate | LedgerError]:
        """Steps (1)-(8) for each raw envelope in one read snapshot; failures are returned."""
        return self.precheck_parsed(parse_each(raws), recognise_first=recognise_first)

    def precheck_parsed(
        self, parsed: Sequence[Envelope | LedgerError], *, recognise_first: bool = False
    ) -> list[Candidate | LedgerError]:
        """Steps (3)-(8) for envelopes that passed (1) and (2) (errors pass through).

        A resubmitted envelope is answered with its original receipt whatever changed since
        (its key revoked, its timestamp now stale): envelopes that fail here are looked up,
        and those that pass are recognised inside the block transaction (step 6), unless
        `recognise_first` asks for every one to be looked up now (for `wait=false`, which
        answers before the block). While this process writes a block, the checks pause
        between envelopes (`_holding_write_lock`).
        """
        with ExitStack() as stack:
            view = StateView(
                lambda: stack.enter_context(read_transaction(self.engine)),
                shared=self.member_cache,
            )
            return self._precheck(view, parsed, recognise_first)

    def precheck_cached(
        self, parsed: Sequence[Envelope | LedgerError]
    ) -> list[Candidate | LedgerError] | None:
        """`precheck_parsed` answered from the member cache alone, or None if that is not
        enough (a cache miss, or a failed check that needs the resubmission lookup).

        Cheap enough for the event loop: no database, no thread hand-off."""

        def no_database() -> Connection:
            raise _NeedsDatabase

        try:
            view = StateView(no_database, shared=self.member_cache)
            # Never waits for the block writer: this runs on the event loop, which must stay
            # free to answer other requests.
            return self._precheck(view, parsed, yield_to_writer=False)
        except _NeedsDatabase:
            return None

    def _precheck(
        self,
        view: StateView,
        parsed: Sequence[Envelope | LedgerError],
        recognise_first: bool = False,
        *,
        yield_to_writer: bool = True,
    ) -> list[Candidate | LedgerError]:
        results: list[Candidate | LedgerError] = []
        failed: list[Envelope] = []
        # Off the event loop only: there, waiting for the threads would stall every request.
        good = self._good_signatures(view, parsed) if yield_to_writer else {}
        for n, item in enumerate(parsed):
            if yield_to_writer and not self._write_lock_free.is_set():
                self._write_lock_free.wait()
            if isinstance(item, LedgerError):
                results.append(item)
                continue
            try:
                results.append(self.validator.precheck_parsed(view, item, good_with=good.get(n)))
            except InputError as e:
                results.append(e)
                failed.append(item)
        envelopes = [p for p in parsed if isinstance(p, Envelope)] if recognise_first else failed
        if envelopes:
            sequenced = view.repo.tx_ids_present(e.tx_id for e in envelopes)
            results = [
                DuplicateEntry(f"entry {item.tx_id} is already sequenced", tx_id=item.tx_id)
                if isinstance(item, Envelope) and item.tx_id in sequenced
                else result
                for item, result in zip(parsed, results, strict=True)
            ]
        return results

    def _good_signatures(
        self, view: StateView, parsed: Sequence[Envelope | LedgerError]
    ) -> dict[int, Verifier]:
        """The key each envelope of `parsed` (by position) has a good signature by,
        checked on every core at once (ledger.service.signatures); empty for a batch too small
        to be worth it. An envelope whose key fails step (3) now is left to the checks that
        follow, which answer it."""
        if len(parsed) < signatures.PARALLEL_FROM:
            return {}
        pairs: list[tuple[Envelope, Verifier]] = []
        positions: list[int] = []
        for n, item in enumerate(parsed):
            if isinstance(item, Envelope):
                try:
                    _, verifier = self.validator.check_member_key(view, item)
                except InputError:
                    continue
                pairs.append((item, verifier))
                positions.append(n)
        if not self._write_lock_free.is_set():
            self._write_lock_free.wait()  # as between envelopes: the block writer goes first
        good = signatures.good_signatures(pairs)
        return {} if good is None else {positions[j]: pairs[j][1] for j in good}

    def submit(self, raws: Sequence[bytes]) -> list[Outcome]:
        """Check and sequence `raws` as one block; one outcome per input, in order."""
        checked = self.precheck_all(raws)
        candidates = [c for c in checked if isinstance(c, Candidate)]
        committed = iter(self.commit_block(candidates).outcomes if candidates else [])
        return [c if isinstance(c, LedgerError) else next(committed) for c in checked]

    def commit_genesis(self, raw: bytes) -> BlockHeader:
        """Write block 0 from a signed ledger.genesis envelope; refuses if the ledger has one."""
        candidate = check_genesis(parse_envelope(raw), self.registry)
        result = self.commit_block([candidate], genesis=True)
        outcome = result.outcomes[0]
        if isinstance(outcome, LedgerError):
            raise outcome
        assert result.header is not None
        return result.header

    def commit_block(
        self,
        candidates: Sequence[Candidate],
        *,
        genesis: bool = False,
        all_or_nothing: bool = False,
    ) -> BlockResult:
        """Step (10): sequence candidates in order as one block, re-checking state inside the lock.

        Candidates that fail their in-sequence checks get their error as outcome; the others are
        committed together. With `all_or_nothing` (a replica replaying the log) one refused
        entry raises BlockRefused and nothing is written. Otherwise raises only for storage
        failures (then nothing was written), or what `seal` raises.
        """
        outcomes: list[Outcome | None] = [None] * len(candidates)
        try:
            written = self._write_block(candidates, outcomes, genesis, all_or_nothing)
        except _NothingToCommit as e:
            return BlockResult(None, [o if o is not None else e.error for o in outcomes])
        header = written.header
        assert header is not None
        if self.on_governance and any(
            isinstance(o, Accepted) and c.envelope.type.startswith(GOVERNANCE_PREFIX)
            for c, o in zip(candidates, outcomes, strict=True)
        ):
            try:
                self.on_governance()
            except Exception:  # the block is committed: a stale members.txt must not undo that
                log.exception("could not rewrite members.txt after block %s", header.height)
        if any(c.envelope.type.startswith(GOVERNANCE_PREFIX) for c in candidates):
            self.member_cache.clear()
        final: list[Outcome] = []
        for outcome in outcomes:
            assert outcome is not None
            if isinstance(outcome, Accepted):
                outcome = Accepted(
                    outcome.tx_id,
                    outcome.index,
                    outcome.block_height,
                    header.size,
                    block_time=header.time,
                )
            final.append(outcome)
        return replace(written, outcomes=final)

    @contextmanager
    def _holding_write_lock(self) -> Iterator[None]:
        """Pause this process's prechecks while it writes a block under the write lock.

        Every other writing process needs that lock for its next block, and a block writer
        that shares the GIL with a batch precheck holds it about twice as long: 101-141 ms per
        1000-entry block against 55-70 ms with this pause (docs/benchmarks.md). Prechecks
        look at the gate between envelopes, so they stop within one signature check. It
        opens again before COMMIT, whose fsync releases the GIL for them.
        """
        self._write_lock_free.clear()
        try:
            yield
        finally:
            self._write_lock_free.set()

    def _write_block(
        self,
        candidates: Sequence[Candidate],
        outcomes: list[Outcome | None],
        genesis: bool,
        all_or_nothing: bool = False,
    ) -> BlockResult:
        with write_transaction(self.engine) as conn, self._holding_write_lock():
            repo = Repository(conn)
            head = repo.head()
            if genesis != (head is None):
                raise _NothingToCommit(
                    StateConflict(
                        "the ledger already has a genesis block"
                        if genesis
                        else "the ledger has no genesis block yet"
                    )
                )
            size = 0 if head is None else head.size
            height = 0 if head is None else head.height + 1
            now = datetime.now(UTC)
            if head is not None:
                now = max(now, parse_ts(head.time))
            block_time = format_ts(now)
            tree = self._edge_of(size, head.root if head else merkle.EMPTY_ROOT, repo)
            # An inclusion proof for a new entry needs only the old tree's compact range (the
            # left siblings wholly before the block) and the nodes the block completes.
            proof_nodes: dict[merkle.Coord, bytes] = {(lv, i): h for lv, i, h in tree.chunks or ()}
            appended: dict[int, Envelope] = {}
            block = BlockContext()
            view = StateView(conn, [c.envelope for c in candidates])
            stored: list[StoredEntry] = []
            used_nonces: list[tuple[str, str, int]] = []  # written in bulk with the block
            new_nodes: list[tuple[int, int, bytes]] = []
            for position, candidate in enumerate(candidates):
                envelope = candidate.envelope
                entry = SequencedEntry(envelope, candidate.body, tree.size, height, block_time)
                projection = self.registry.projection_for(envelope.type)
                # Checks only read (Projection: `check` raises, `apply` must not fail for an
                # entry `check` accepted), so a refused entry has nothing to undo and needs no
                # savepoint: one per entry cost a third of a block's time.
                try:
                    if not (genesis and projection is not None):
                        self.validator.check_in_sequence(conn, view, candidate, entry, block)
                except InputError as e:
                    if all_or_nothing:
                        raise BlockRefused(tree.size, e) from e
                    outcomes[position] = e
                    continue
                if projection is not None:
                    apply_entry(conn, self.registry, entry)
                if envelope.type.startswith(GOVERNANCE_PREFIX):
                    view.forget_members()
                block.nonces.add((envelope.org, envelope.nonce))
                block.tx_ids.add(envelope.tx_id)
                used_nonces.append((envelope.org, envelope.nonce, entry.index))
                stored.append(
                    StoredEntry(
                        tree.size, envelope.tx_id, envelope.org, envelope.type, envelope.raw, height
                    )
                )
                appended[tree.size] = envelope
                new_nodes.extend(tree.append(merkle.leaf_hash(envelope.raw)))
                outcomes[position] = Accepted(envelope.tx_id, entry.index, height, 0)
            if not stored:
                raise _NothingToCommit(StateConflict("no entry of the block was accepted"))
            header = BlockHeader(
                height=height,
                prev=GENESIS_PREV if head is None else head.hash_hex(),
                time=block_time,
                first=size,
                count=len(stored),
                size=tree.size,
                root=tree.root(),
            )
            repo.insert_block(header)
            repo.insert_entries(stored)
            repo.insert_nodes(new_nodes)
            repo.insert_nonces(used_nonces)
            checkpoint = self.seal(header)
            repo.insert_checkpoint(header.size, height, checkpoint)
        # Committed: the next block starts from this edge unless another process writes first.
        self._edge = (header.size, header.root, list(tree.chunks or ()))
        proof_nodes.update(((lv, i), h) for lv, i, h in new_nodes)
        return BlockResult(header, [], checkpoint, proof_nodes, appended)
