"""`sealchain reindex`: rebuild every projection from the entries, in one transaction.

It runs the same `apply_entry` the sequencer runs live, so the rebuilt state is the live state;
the tests compare the two table by table.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine

from ledger.core.block import BlockHeader
from ledger.core.canonical import parse_strict
from ledger.core.envelope import envelope_from_dict
from ledger.service.app import Registry, SequencedEntry
from ledger.service.sequencer import apply_entry
from ledger.storage.engine import write_transaction
from ledger.storage.repository import Repository


def reindex(
    engine: Engine, registry: Registry, *, progress: Callable[[int, int], None] | None = None
) -> int:
    """Clear derived tables and replay every entry through the projections; returns the count."""
    with write_transaction(engine) as conn:
        return replay_entries(conn, registry, progress=progress)


def replay_entries(
    conn: Connection, registry: Registry, *, progress: Callable[[int, int], None] | None = None
) -> int:
    """Within the caller's write transaction: empty every derived table, then apply every
    entry in log order as the sequencer did. Returns the number of entries replayed."""
    repo = Repository(conn)
    total = repo.tree_size()
    repo.clear_derived()
    for projection in registry.projections():
        projection.clear(conn)
    block: BlockHeader | None = None
    done = 0
    for stored in repo.iter_entries():
        if block is None or block.height != stored.block_height:
            block = repo.block(stored.block_height)
            assert block is not None, "entry without block: run sealchain audit"
        envelope = envelope_from_dict(parse_strict(stored.data))
        _, body = registry.parse_body(envelope)
        repo.insert_nonces([(envelope.org, envelope.nonce, stored.idx)])
        apply_entry(
            conn, registry, SequencedEntry(envelope, body, stored.idx, block.height, block.time)
        )
        done += 1
        if progress and (done % 1000 == 0 or done == total):
            progress(done, total)
    return done
