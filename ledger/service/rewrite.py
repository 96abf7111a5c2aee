"""What a dishonest operator with the log key could do: rewrite history and re-sign it.

`rewrite_entry` changes one stored entry and then makes the database consistent with the
change as only the log key's holder can: every Merkle node recomputed, every block header
after it given the new root and relinked, every checkpoint re-signed, the witnesses'
cosignatures on the old checkpoints dropped. The audit of the rewritten database passes but
for the entry's own signature, which the operator cannot forge: so the rewrite also works on
an entry the operator signed itself. What it cannot do is make the new tree consistent with
a checkpoint someone kept from before, and that is what witnesses and clients check.

Used by `sealchain scenario tamper` and the tests; never by a running ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import Engine, delete, select, update

from ledger.core import merkle
from ledger.core.block import GENESIS_PREV, decode_header
from ledger.core.keys import Signer
from ledger.core.note import Checkpoint, sign_note
from ledger.storage.engine import write_transaction
from ledger.storage.repository import Repository
from ledger.storage.tables import blocks, checkpoints, cosignatures, entries, nodes


def rewrite_entry(
    engine: Engine, log_signer: Signer, index: int, change: Callable[[bytes], bytes]
) -> int:
    """Replace entry `index` with `change(data)` and re-sign everything after it; returns the
    number of checkpoints re-signed. Holds the write lock: stop the log's server first (it
    keeps the tree's edge in memory and would sign the next block on the old one)."""
    with write_transaction(engine) as conn:
        (data,) = conn.execute(select(entries.c.data).where(entries.c.idx == index)).one()
        conn.execute(update(entries).where(entries.c.idx == index).values(data=change(data)))
        tree = merkle.CompactRange()
        new_nodes: list[tuple[int, int, bytes]] = []
        prev = GENESIS_PREV
        resigned = 0
        rows = conn.execute(select(entries.c.data).order_by(entries.c.idx)).scalars()
        leaves = iter(rows.all())
        for header_bytes in (
            conn.execute(select(blocks.c.header).order_by(blocks.c.height)).scalars().all()
        ):
            header = decode_header(header_bytes)
            while tree.size < header.size:
                new_nodes.extend(tree.append(merkle.leaf_hash(next(leaves))))
            rewritten = replace(header, root=tree.root(), prev=prev)
            if rewritten != header:
                conn.execute(
                    update(blocks)
                    .where(blocks.c.height == header.height)
                    .values(header=rewritten.encode(), hash=rewritten.hash())
                )
                note = sign_note(
                    Checkpoint(log_signer.name, rewritten.size, rewritten.root).text(),
                    [log_signer],
                )
                conn.execute(
                    update(checkpoints)
                    .where(checkpoints.c.size == rewritten.size)
                    .values(note=str(note))
                )
                conn.execute(delete(cosignatures).where(cosignatures.c.size == rewritten.size))
                resigned += 1
            prev = rewritten.hash_hex()
        conn.execute(delete(nodes))
        Repository(conn).insert_nodes(new_nodes)
    return resigned
