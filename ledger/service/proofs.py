"""Proofs and receipts read from storage: O(log n) stored node hashes, the upper levels from the
process's node cache (ledger.service.node_cache), the others in one query per proof."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, select

from ledger.core import merkle
from ledger.core.canonical import parse_strict
from ledger.core.note import parse_note
from ledger.core.policy import LogPolicy
from ledger.core.receipt import Receipt, is_final
from ledger.errors import NotFound, StorageError
from ledger.service.node_cache import current_head, read_nodes
from ledger.service.sequencer import BlockResult
from ledger.storage.repository import Repository
from ledger.storage.tables import cosignatures

FINAL_LOOKBACK = 16  # cosigned sizes examined for a final one: witnesses cosign the newest
# Built once (receipts ask it per request): building the select cost more than answering it.
_COSIGNED_SIZES = (
    select(cosignatures.c.size)
    .where(cosignatures.c.size >= bindparam("at_least"))
    .group_by(cosignatures.c.size)
    .order_by(cosignatures.c.size.desc())
    .limit(FINAL_LOOKBACK)
)


def inclusion_proof(conn: Connection, index: int, size: int) -> list[bytes]:
    """Audit path for entry `index` in the tree of `size`; raises NotFound outside the tree."""
    head = current_head(conn)
    if head is None or not 0 <= index < size or size > head.size:
        raise NotFound(f"no entry {index} in a tree of size {size}")
    plan = merkle.inclusion_plan(index, size)
    found = read_nodes(conn, head, plan.coords)
    _require(found, plan.coords)
    return plan.proof(found)


def consistency_proof(conn: Connection, size1: int, size2: int) -> list[bytes]:
    head = current_head(conn)
    tree_size = 0 if head is None else head.size
    if not 0 <= size1 <= size2 or size2 > tree_size:
        raise NotFound(f"no consistency proof from size {size1} to {size2}")
    coords = merkle.consistency_nodes(size1, size2)
    found = read_nodes(conn, head, coords) if head is not None else {}
    _require(found, coords)
    return merkle.consistency_proof(size1, size2, found)


def _require(found: dict[merkle.Coord, bytes], coords: list[merkle.Coord]) -> None:
    missing = [c for c in coords if c not in found]
    if missing:
        raise StorageError(f"stored Merkle nodes are missing: {missing[:3]}; run sealchain audit")


def checkpoint_with_cosignatures(conn: Connection, size: int | None = None) -> tuple[int, str]:
    """(size, signed note with every stored cosignature) at `size` or the latest."""
    found = Repository(conn).checkpoint(size)
    if found is None:
        raise NotFound("no checkpoint" + ("" if size is None else f" for size {size}"))
    return found[0], _cosigned(conn, *found)


def _cosigned(conn: Connection, size: int, text: str) -> str:
    """The stored note `text` of the checkpoint at `size` with its stored cosignatures."""
    lines = Repository(conn).cosignature_lines(size)
    if lines:
        text = text + "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        parse_note(text)  # a stored cosignature line that breaks the note is a storage fault
    return text


def final_checkpoint(
    conn: Connection, policy: LogPolicy, at_least: int = 1
) -> tuple[int, str] | None:
    """The latest checkpoint of `at_least` entries or more whose cosignatures meet the policy's
    quorum (with `quorum none`, the latest checkpoint), with its cosignatures; None if none is.

    Only cosigned checkpoints can meet a quorum, and witnesses cosign the latest checkpoint
    when they are asked, so this looks at the few newest cosigned sizes."""
    if policy.quorum == "none":
        latest = Repository(conn).checkpoint()
        if latest is None or latest[0] < at_least:
            return None
        return latest[0], _cosigned(conn, *latest)
    sizes = conn.execute(_COSIGNED_SIZES, {"at_least": at_least}).scalars()
    for size in sizes:
        found = checkpoint_with_cosignatures(conn, size)
        if is_final(found[1], policy):
            return found
    return None


def best_checkpoint(conn: Connection, policy: LogPolicy | None, at_least: int = 1) -> int | None:
    """The size to prove against: the latest final checkpoint holding `at_least` entries, else
    (not final yet) the latest checkpoint. None means the latest."""
    if policy is None:
        return None
    final = final_checkpoint(conn, policy, at_least)
    return None if final is None else final[0]


def inclusion_proofs(conn: Connection, indexes: Sequence[int], size: int) -> list[list[bytes]]:
    """Inclusion proofs for many entries in the tree of `size`, from one batched node read."""
    if not indexes:
        return []
    head = current_head(conn)
    if any(not 0 <= i < size for i in indexes) or head is None or size > head.size:
        raise NotFound(f"some entries are not in the tree of size {size}")
    coords = {c for i in indexes for c in merkle.inclusion_nodes(i, size)}
    found = read_nodes(conn, head, coords)
    _require(found, list(coords))
    return merkle.inclusion_proofs(indexes, size, found)


def receipts_for(
    conn: Connection, indexes: Sequence[int], policy: LogPolicy | None = None
) -> list[Receipt]:
    """Receipts for many entries against the latest checkpoint (with `policy`: the latest final
    one that holds them all, if there is one): one node query per 400 nodes."""
    at_least = max(indexes, default=-1) + 1
    final = None if policy is None else final_checkpoint(conn, policy, at_least)
    cp_size, note = final if final is not None else checkpoint_with_cosignatures(conn)
    proofs = inclusion_proofs(conn, indexes, cp_size)
    data = Repository(conn).entry_data(indexes)
    return [
        Receipt(parse_strict(data[i]), i, tuple(proof), note)
        for i, proof in zip(indexes, proofs, strict=True)
    ]


def receipts_in_block(block: BlockResult, indexes: Sequence[int]) -> list[Receipt]:
    """Receipts for entries of a block just committed, against its own checkpoint, from what the
    commit kept in memory: no database read. Raises KeyError if a proof node is missing."""
    assert block.header is not None
    size, note = block.header.size, block.checkpoint
    paths = merkle.inclusion_proofs(indexes, size, block.nodes)
    return [
        Receipt(block.entries[i].as_dict(), i, tuple(path), note)
        for i, path in zip(indexes, paths, strict=True)
    ]


def receipt_for(
    conn: Connection, tx_id: str, *, size: int | None = None, policy: LogPolicy | None = None
) -> Receipt:
    """Receipt for entry `tx_id` against the checkpoint at `size` (default: the latest, or with
    `policy` the latest final one holding the entry if there is one)."""
    repo = Repository(conn)
    stored = repo.entry_by_tx(tx_id)
    if stored is None:
        raise NotFound(f"no entry with tx_id {tx_id}")
    if size is None:
        size = best_checkpoint(conn, policy, stored.idx + 1)
    cp_size, note = checkpoint_with_cosignatures(conn, size)
    if stored.idx >= cp_size:
        raise NotFound(f"entry {tx_id} is not in the tree of size {cp_size}")
    proof = inclusion_proof(conn, stored.idx, cp_size)
    return Receipt(parse_strict(stored.data), stored.idx, tuple(proof), note)
