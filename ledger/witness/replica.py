"""A validating witness's own copy of the log: every entry replayed through the ledger's
pipeline into the witness's own database, and the tree recomputed from them.

The replica trusts nothing the log says about its entries. It starts from the genesis the
member was given (the home's genesis.json), not the log's entry 0. Then each entry must pass
the same checks the log ran (DESIGN 5): (3) its org is an active member and the key is the
org's and not revoked at that index, (4) the signature, (6) no replayed tx_id or nonce, (7)
a valid body, (8) the role, (9) the app's state rules. Only (5), the submission time against
the log's clock at the moment it arrived, cannot be re-run: a replica reads the entry later.
The projections (who holds a pack, certificate status, ...) are written as the log writes
them, so a peer can serve the same pages.

The replica is a ledger database like the log's, with one difference: it holds no log key,
so each of its blocks is sealed with the log's own signed checkpoint for that size, and only
if the root the replica computed is that checkpoint's root. Otherwise nothing is written and
the witness refuses to cosign, saying what differed.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ledger.core import merkle
from ledger.core.block import BlockHeader
from ledger.core.envelope import Envelope, parse_envelope
from ledger.core.keys import Verifier
from ledger.core.note import Checkpoint, Note, parse_checkpoint, parse_note, verified_signers
from ledger.core.policy import LogPolicy
from ledger.core.receipt import verify_log_signature
from ledger.errors import InputError, LedgerError
from ledger.service.app import Registry, SequencedEntry
from ledger.service.pipeline import BlockContext, Candidate, StateView, Validator, check_genesis
from ledger.service.sequencer import BlockRefused, Sequencer
from ledger.storage.engine import read_transaction, write_transaction
from ledger.storage.repository import Repository


class ReplicaRefusal(Exception):
    """Why the replica would not take the log's entries up to a checkpoint: the witness's
    answer when it refuses to cosign."""


class NeedsGenesisCheckpoint(ReplicaRefusal):
    """An empty replica takes the genesis block first, sealed by the log's checkpoint 1."""


class ReplayValidator(Validator):
    """The pipeline's checks in the order a replay needs them.

    The log checks (3), (4), (7) and (8) before a block, against the state when the entry
    arrived. A replica takes many of the log's blocks as one, so the state an entry must be
    checked against (a key added by the entry before it, say) exists only inside the block:
    here the key lookup and the signature run in sequence, at the entry's own index (a
    signature found good earlier, `good_with`, is checked again all the same)."""

    def precheck_parsed(
        self, view: StateView, envelope: Envelope, *, good_with: Verifier | None = None
    ) -> Candidate:
        record_type, body = self.registry.parse_body(envelope)  # (7)
        return Candidate(envelope, record_type, body)

    def check_in_sequence(
        self,
        conn: Connection,
        view: StateView,
        candidate: Candidate,
        entry: SequencedEntry,
        block: BlockContext,
    ) -> None:
        _, verifier = self.check_member_key(view, candidate.envelope)  # (3) at its index
        candidate.envelope.verify_signature(verifier)  # (4)
        super().check_in_sequence(conn, view, candidate, entry, block)  # (3), (6), (8), (9)


@dataclass(frozen=True)
class _Target:
    size: int
    root: bytes
    note: str


class Replica:
    """The witness's replica in `engine` (migrated, with the apps' projection tables)."""

    def __init__(
        self, engine: Engine, registry: Registry, policy: LogPolicy, genesis: bytes
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.genesis = genesis
        self.sequencer = Sequencer(
            engine, registry, ReplayValidator(registry), None, seal=self._seal
        )
        self._target: _Target | None = None
        self._lock = threading.Lock()  # one extension at a time; _target belongs to it

    def size(self) -> int:
        with read_transaction(self.engine) as conn:
            return Repository(conn).tree_size()

    def root_at(self, size: int) -> bytes:
        """The root of the replica's tree at `size` (at most its own size), from its nodes."""
        if size == 0:
            return merkle.EMPTY_ROOT
        with read_transaction(self.engine) as conn:
            found = Repository(conn).get_nodes(merkle.root_nodes(size))
        return merkle.CompactRange.from_nodes(size, found).root()

    def open_log_note(self, note_text: str) -> tuple[str, Checkpoint]:
        """The checkpoint note with the log's signature only (cosignatures are not the log's:
        they go to the cosignatures table, `keep_cosignatures`), and the checkpoint; raises
        ReplicaRefusal if no log key of the policy signed it."""
        try:
            note = parse_note(note_text)
            checkpoint = parse_checkpoint(note.text)
            key = verify_log_signature(note, checkpoint, self.policy)
        except LedgerError as e:
            raise ReplicaRefusal(f"the log's checkpoint does not verify: {e.detail}") from e
        mine = tuple(s for s in note.signatures if s.key_id == key.key_id)
        return str(Note(note.text, mine)), checkpoint

    def keep_cosignatures(self, note_text: str) -> int:
        """Store the cosignatures on the log's checkpoint `note_text` that verify with a
        witness key of the policy, if the replica has that checkpoint, so that pages served
        from it prove against final checkpoints as the log's do. Returns how many were new."""
        witnesses = self.policy.witnesses
        note = parse_note(note_text)
        size = parse_checkpoint(note.text).size
        by_key = {(w.name, w.key_id): name for name, w in witnesses.items()}
        added = 0
        with write_transaction(self.engine) as conn:
            repo = Repository(conn)
            stored = repo.checkpoint(size)
            if stored is None or parse_note(stored[1]).text != note.text:
                return 0
            have = set(repo.cosignature_lines(size))
            for signature in note.signatures:
                name = by_key.get((signature.name, signature.key_id))
                line = signature.line()
                if name is None or line in have:
                    continue
                if not verified_signers(parse_note(note.text + "\n" + line), [witnesses[name]]):
                    continue
                try:
                    with conn.begin_nested():
                        repo.add_cosignature(size, name, line)
                except IntegrityError:
                    continue
                added += 1
        return added

    def extend(self, raws: Sequence[bytes], size: int, root: bytes, note: str) -> None:
        """Replay `raws`, the log's entries from the replica's size up to `size`, as one block
        sealed by `note` (the log's checkpoint with `root`). Raises ReplicaRefusal, having
        written nothing, if an entry fails the pipeline or the recomputed root differs."""
        with self._lock:
            start = self.size()
            if start + len(raws) != size:
                raise ReplicaRefusal(
                    f"expected {size - start} entries after index {start}, got {len(raws)}"
                )
            envelopes = []
            for offset, raw in enumerate(raws):
                try:
                    envelopes.append(parse_envelope(raw))  # (1), (2)
                except InputError as e:
                    raise ReplicaRefusal(f"entry {start + offset}: {e.detail}") from e
            if start == 0 and size != 1:
                # Block 0 holds the genesis alone, and a block is sealed only by the log's
                # checkpoint for its size: the caller fetches the one for size 1 first.
                raise NeedsGenesisCheckpoint("the replica starts with the log's checkpoint 1")
            self._target = _Target(size, root, self.open_log_note(note)[0])
            try:
                if start == 0:
                    self._commit_genesis(envelopes[0])
                else:
                    self._commit(envelopes)
            finally:
                self._target = None

    def _commit_genesis(self, envelope: Envelope) -> None:
        if envelope.raw != self.genesis:
            raise ReplicaRefusal(
                "entry 0 is not the genesis this witness was given (its home's genesis.json)"
            )
        try:
            self.sequencer.commit_block(
                [check_genesis(envelope, self.sequencer.registry)], genesis=True
            )
        except LedgerError as e:
            raise ReplicaRefusal(f"entry 0 (genesis): {e.detail}") from e

    def _commit(self, envelopes: list[Envelope]) -> None:
        start = self.size()
        candidates = []
        with read_transaction(self.engine) as conn:
            view = StateView(conn)
            for offset, envelope in enumerate(envelopes):
                try:
                    candidates.append(self.sequencer.validator.precheck_parsed(view, envelope))
                except InputError as e:
                    raise ReplicaRefusal(f"entry {start + offset} ({e.code}): {e.detail}") from e
        try:
            self.sequencer.commit_block(candidates, all_or_nothing=True)
        except BlockRefused as e:
            raise ReplicaRefusal(
                f"entry {e.index} fails the pipeline ({e.error.code}): {e.error.detail}"
            ) from e

    def _seal(self, header: BlockHeader) -> str:
        """Inside the block's transaction: the log's checkpoint if the replica's tree at the
        block's end is the one the log signed; anything else rolls the block back."""
        target = self._target
        if target is None or header.size != target.size:
            raise ReplicaRefusal(f"no checkpoint of the log for size {header.size}")
        if header.root != target.root:
            raise ReplicaRefusal(
                f"FORK: replaying the log's entries up to size {header.size} gives root "
                f"{_b64(header.root)}, but the log's checkpoint says {_b64(target.root)}"
            )
        return target.note


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()
