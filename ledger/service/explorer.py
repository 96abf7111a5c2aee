"""What the public explorer shows: block headers newest first, each with its checkpoint, the
witnesses whose cosignatures on it verify (named as the trust policy names their keys) and
whether they meet the policy's quorum; and how far each witness has cosigned.

Headers only: entries and their tx_ids stay members-only (DESIGN 8). Everything here is the
server's statement; the explorer page checks checkpoints and consistency in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from ledger.core.block import BlockHeader, decode_header
from ledger.core.note import Note, cosignature_time, parse_note, verified_signers
from ledger.core.policy import LogPolicy
from ledger.errors import NoteError
from ledger.storage.tables import blocks, checkpoints, cosignatures

MAX_LIMIT = 100  # blocks on one page of the listing


@dataclass(frozen=True)
class Cosignature:
    """One stored cosignature line, as the trust policy sees it."""

    line: str
    witness: str | None  # the policy's name for the key; None for a key the policy lacks
    key_name: str  # the name on the line ("" if the line does not parse)
    key_id: str  # hex8 ("" if the line does not parse)
    time: int | None  # the witness's clock when it cosigned (Unix seconds)
    verified: bool  # a policy witness's key, and its signature on this checkpoint verifies


@dataclass(frozen=True)
class CheckpointView:
    size: int
    note: str  # the signed note with every stored cosignature line
    cosignatures: tuple[Cosignature, ...]
    final: bool  # the verified cosigners meet the policy's quorum

    @property
    def cosigners(self) -> list[str]:
        """Policy names of the witnesses whose cosignature verifies, sorted."""
        return sorted({c.witness for c in self.cosignatures if c.verified and c.witness})


@dataclass(frozen=True)
class BlockRow:
    header: BlockHeader
    checkpoint: CheckpointView | None  # every block has one; None only for damaged storage

    @property
    def hash(self) -> str:
        return self.header.hash_hex()


@dataclass(frozen=True)
class Listing:
    rows: list[BlockRow]  # newest first
    next_before: int | None  # pass as `before` for the next (older) page; None at block 0
    head: int | None  # height of the latest block (None: an empty ledger)


@dataclass(frozen=True)
class WitnessView:
    name: str
    vkey: str
    key_name: str
    key_id: str
    last_cosigned: int | None  # the largest checkpoint size it cosigned


def latest_blocks(
    conn: Connection, policy: LogPolicy, *, before: int | None = None, limit: int = 20
) -> Listing:
    """Up to `limit` blocks below height `before` (default: from the latest), newest first,
    each with its checkpoint and cosignatures. Two queries whatever `limit` is."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1 to {MAX_LIMIT}")
    query = (
        select(blocks.c.header, checkpoints.c.size, checkpoints.c.note)
        .select_from(blocks.outerjoin(checkpoints, checkpoints.c.block_height == blocks.c.height))
        .order_by(blocks.c.height.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(blocks.c.height < before)
    found = conn.execute(query).all()
    sizes = [r.size for r in found if r.size is not None]
    lines: dict[int, list[str]] = {}
    if sizes:
        for size, line in conn.execute(
            select(cosignatures.c.size, cosignatures.c.line)
            .where(cosignatures.c.size.in_(sizes))
            .order_by(cosignatures.c.size, cosignatures.c.witness)
        ):
            lines.setdefault(size, []).append(line)
    rows = []
    for r in found:
        header = decode_header(r.header)
        checkpoint = None
        if r.size is not None:
            checkpoint = checkpoint_view(r.size, r.note, lines.get(r.size, []), policy)
        rows.append(BlockRow(header, checkpoint))
    head = conn.execute(select(func.max(blocks.c.height))).scalar()
    last = rows[-1].header.height if rows else None
    next_before = last if last and len(rows) == limit else None
    return Listing(rows, next_before, head)


def checkpoint_view(size: int, note: str, lines: list[str], policy: LogPolicy) -> CheckpointView:
    """The checkpoint at `size` (its log-signed `note`) with its stored cosignature `lines`."""
    text = parse_note(note).text
    found = tuple(read_cosignature(text, line, policy) for line in lines)
    full = note + "".join(c.line if c.line.endswith("\n") else c.line + "\n" for c in found)
    view = CheckpointView(size, full, found, final=False)
    return CheckpointView(size, full, found, final=policy.quorum_met(set(view.cosigners)))


def read_cosignature(text: str, line: str, policy: LogPolicy) -> Cosignature:
    """Who made `line`, a cosignature of the checkpoint `text`, and whether it verifies. A line
    that does not parse, or whose key the policy does not list, counts for no witness."""
    try:
        (sig,) = parse_note(text + "\n" + line.rstrip("\n") + "\n").signatures
    except (NoteError, ValueError):
        return Cosignature(line, None, "", "", None, False)
    witness = next(
        (
            name
            for name, w in policy.witnesses.items()
            if w.name == sig.name and w.key_id == sig.key_id
        ),
        None,
    )
    try:
        time: int | None = cosignature_time(sig)
    except NoteError:
        time = None
    verified = False
    if witness is not None:
        try:
            verified = bool(verified_signers(Note(text, (sig,)), [policy.witnesses[witness]]))
        except NoteError:
            verified = False
    return Cosignature(line, witness, sig.name, sig.key_id.hex(), time, verified)


def witnesses(conn: Connection, policy: LogPolicy) -> list[WitnessView]:
    """The policy's witnesses, each with the largest checkpoint size it has cosigned here."""
    last = dict(
        conn.execute(
            select(cosignatures.c.witness, func.max(cosignatures.c.size)).group_by(
                cosignatures.c.witness
            )
        ).all()
    )
    return [
        WitnessView(name, w.vkey, w.name, w.key_id.hex(), last.get(name))
        for name, w in policy.witnesses.items()
    ]
