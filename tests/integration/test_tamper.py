"""Tamper detection (acceptance item): on SQLite and on PostgreSQL, for a ledger of 221 entries
in 9 blocks, changing any single byte of a stored entry, node hash, block header or checkpoint,
or deleting, swapping or adding rows, makes `sealchain audit` exit 1 and name the first bad
entry or block. Positions are sampled in every raw table (and the nonce projection).

The ledger is built once per backend; every case tampers with its own copy (a copied home for
SQLite, a `CREATE DATABASE ... TEMPLATE` clone for PostgreSQL) through plain SQL, then runs the
real CLI. Each case states exactly where the audit must report the fault, e.g. "entry 17" or
"block 3"; a stored Merkle node is reported at the block in which it became complete.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from ledger.cli import app
from ledger.core.note import cosign, parse_note
from ledger.home import Home
from ledger.storage.engine import write_transaction
from ledger.storage.repository import Repository
from ledger.storage.tables import node_span
from tests.conftest import create_pg_database, drop_pg_database
from tests.support.ledgers import make_ledger

REPO = Path(__file__).resolve().parents[2]

# Genesis (entry 0) is block 0; fill(220, 30) adds blocks 1-7 of 30 entries and block 8 of 10.
FILL, PER_BLOCK = 220, 30
SIZE = FILL + 1
LAST = SIZE - 1
BLOCKS: list[tuple[int, int, int]] = [  # (height, first, size)
    (0, 0, 1),
    *(
        (h, 1 + PER_BLOCK * (h - 1), min(1 + PER_BLOCK * h, SIZE))
        for h in range(1, 1 + -(-FILL // PER_BLOCK))
    ),
]
LAST_BLOCK = BLOCKS[-1][0]
TOP_LEVEL = SIZE.bit_length() - 1  # the highest level with a complete node: 2**7 <= 221
WITNESS = "writer-b"  # the sample consortium's witness
COSIGNED = (2, 6)  # blocks whose checkpoints get a real witness cosignature

Mutation = Callable[[Connection], None]


def block_of(index: int) -> int:
    return next(h for h, first, size in BLOCKS if first <= index < size)


def block_completing(level: int, i: int) -> int:
    """Node (level, i) becomes complete when leaf (i + 1) * 2**level - 1 is appended."""
    return block_of(((i + 1) << level) - 1)


def size_of(height: int) -> int:
    return BLOCKS[height][2]


# --- the built ledger and its copies -------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    backend: str
    home: Path
    database_url: str | None  # None: the home's ledger.db


def add_cosignatures(home: Path, engine: Any, plan: Any) -> None:
    """Cosign the checkpoints of COSIGNED with the witness key, so that table has rows too."""
    signer = Home(home).witness_signer(WITNESS, plan.witness_key_name(WITNESS))
    with write_transaction(engine) as conn:
        repo = Repository(conn)
        for height in COSIGNED:
            found = repo.checkpoint(size_of(height))
            assert found is not None
            line = cosign(parse_note(found[1]).text, signer, 1_800_000_000 + height).line()
            repo.add_cosignature(found[0], WITNESS, line)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    url = None if request.param == "sqlite" else create_pg_database()
    try:
        ledger = make_ledger(tmp_path_factory.mktemp(f"built-{request.param}") / "home", url)
        try:
            ledger.fill(FILL, PER_BLOCK)
            add_cosignatures(ledger.settings.home, ledger.node.engine, ledger.plan)
            with ledger.node.engine.connect() as conn:
                sizes = conn.execute(text("SELECT height, size FROM blocks ORDER BY height")).all()
            if url is None:  # fold the WAL into ledger.db so a file copy is the whole ledger
                raw = ledger.node.engine.raw_connection()  # autocommit: outside any transaction
                try:
                    raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    raw.close()
        finally:
            ledger.close()  # disposes the engine: no open connection to the PostgreSQL template
        # The expected positions below are computed from this layout.
        assert [(h, s) for h, s in sizes] == [(h, s) for h, _, s in BLOCKS]
        yield Built(request.param, ledger.settings.home, url)
    finally:
        if url:
            drop_pg_database(url)


@dataclass(frozen=True)
class Copy:
    home: Path
    url: str
    env: dict[str, str]  # for the CLI: where the copy's database is


@contextmanager
def tampered_copy(built: Built, tmp: Path, mutate: Mutation | None) -> Iterator[Copy]:
    """A copy of the built ledger (home and database) with `mutate` applied in one transaction."""
    home = tmp / "copy"
    shutil.copytree(built.home, home)
    if built.database_url is None:
        url, env = f"sqlite:///{home / 'ledger.db'}", {}
    else:
        url = create_pg_database(template=make_url(built.database_url).database)
        env = {"SEALCHAIN_DATABASE_URL": url}
    try:
        if mutate is not None:
            engine = create_engine(url)  # plain engine: on SQLite, foreign keys are not enforced
            try:
                with engine.begin() as conn:
                    if built.database_url is not None:
                        # Let a case delete or renumber a referenced row, as on SQLite.
                        conn.execute(text("SET LOCAL session_replication_role = replica"))
                    mutate(conn)
            finally:
                engine.dispose()
        yield Copy(home, url, env)
    finally:
        if built.database_url is not None:
            drop_pg_database(url)


def run_audit(copy: Copy, *options: str) -> Any:
    return CliRunner().invoke(app, ["audit", "--home", str(copy.home), *options], env=copy.env)


# --- mutations: plain SQL, each checked to touch exactly the rows it means to ---------------------


def execute(conn: Connection, sql: str, rows: int = 1, **params: Any) -> None:
    done = conn.execute(text(sql), params)
    assert done.rowcount == rows, f"{sql} {params} changed {done.rowcount} rows, not {rows}"


def fetch(conn: Connection, sql: str, **params: Any) -> Any:
    return conn.execute(text(sql), params).scalar_one()


def sql(*statements: str) -> Mutation:
    """Statements that each change exactly one row."""

    def mutate(conn: Connection) -> None:
        for statement in statements:
            execute(conn, statement)

    return mutate


Locate = Callable[[bytes], int]


def at(offset: int) -> Locate:
    """A fixed byte offset (negative: from the end)."""
    return lambda data: offset % len(data)


def middle(data: bytes) -> int:
    return len(data) // 2


def in_field(name: str, skip: int) -> Locate:
    """`skip` bytes into the value of the envelope's top-level field `name`.

    JCS puts "body" first, so the last occurrence of `"name":` is the envelope's own field.
    """

    def locate(data: bytes) -> int:
        key = f'"{name}":'.encode()
        found = data.find(key) if name == "body" else data.rfind(key)
        assert found >= 0, (name, data)
        value = found + len(key) + (1 if data[found + len(key)] == ord('"') else 0)
        return value + skip

    return locate


def flip_byte(table: str, column: str, where: str, locate: Locate, **key: Any) -> Mutation:
    """XOR 0x01 into one byte of a binary column."""

    def mutate(conn: Connection) -> None:
        data = bytearray(fetch(conn, f"SELECT {column} FROM {table} WHERE {where}", **key))
        data[locate(bytes(data))] ^= 0x01
        execute(conn, f"UPDATE {table} SET {column} = :new WHERE {where}", new=bytes(data), **key)

    return mutate


def other_char(c: str) -> str:
    """A different character of the same kind, so the text stays well formed."""
    for alphabet in ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        if c in alphabet:
            return alphabet[(alphabet.index(c) + 1) % len(alphabet)]
    return "A"


def change_note_char(height: int, line: int, skip: int) -> Mutation:
    """Change one character of checkpoint `height`'s note: `skip` into line `line`
    (0 origin, 1 size, 2 root, 4 the log's signature line, counted from its base64)."""

    def mutate(conn: Connection) -> None:
        note = fetch(conn, "SELECT note FROM checkpoints WHERE block_height = :h", h=height)
        lines = note.split("\n")
        target = lines[line]
        if line == 4:
            assert target.startswith("— "), note
            skip_at = target.rindex(" ") + 1 + skip
        else:
            skip_at = skip % len(target)
        lines[line] = target[:skip_at] + other_char(target[skip_at]) + target[skip_at + 1 :]
        changed = "\n".join(lines)
        assert changed != note
        execute(
            conn, "UPDATE checkpoints SET note = :n WHERE block_height = :h", n=changed, h=height
        )

    return mutate


def change_cosignature_char(height: int, skip: int) -> Mutation:
    """Change one character `skip` into the base64 of the cosignature on block `height`."""

    def mutate(conn: Connection) -> None:
        size = size_of(height)
        line = fetch(conn, "SELECT line FROM cosignatures WHERE size = :s", s=size)
        pos = line.rindex(" ") + 1 + skip
        changed = line[:pos] + other_char(line[pos]) + line[pos + 1 :]
        execute(conn, "UPDATE cosignatures SET line = :l WHERE size = :s", l=changed, s=size)

    return mutate


def swap_column(table: str, column: str, key: str, a: Any, b: Any) -> Mutation:
    """Exchange `column` between the rows whose `key` is a and b (no unique constraint on it)."""

    def mutate(conn: Connection) -> None:
        va = fetch(conn, f"SELECT {column} FROM {table} WHERE {key} = :k", k=a)
        vb = fetch(conn, f"SELECT {column} FROM {table} WHERE {key} = :k", k=b)
        assert va != vb
        execute(conn, f"UPDATE {table} SET {column} = :v WHERE {key} = :k", v=vb, k=a)
        execute(conn, f"UPDATE {table} SET {column} = :v WHERE {key} = :k", v=va, k=b)

    return mutate


def renumber_swap(table: str, column: str, a: int, b: int, temp: int = -7) -> Mutation:
    """Exchange the values a and b of a unique integer column (through a free `temp`)."""
    return sql(
        f"UPDATE {table} SET {column} = {temp} WHERE {column} = {a}",
        f"UPDATE {table} SET {column} = {a} WHERE {column} = {b}",
        f"UPDATE {table} SET {column} = {b} WHERE {column} = {temp}",
    )


def swap_node_hashes(a: tuple[int, int], b: tuple[int, int]) -> Mutation:
    def mutate(conn: Connection) -> None:
        select = "SELECT hash FROM nodes WHERE level = :l AND idx = :i"
        update = "UPDATE nodes SET hash = :h WHERE level = :l AND idx = :i"
        ha = fetch(conn, select, l=a[0], i=a[1])
        hb = fetch(conn, select, l=b[0], i=b[1])
        execute(conn, update, h=hb, l=a[0], i=a[1])
        execute(conn, update, h=ha, l=b[0], i=b[1])

    return mutate


def swap_block_rows(a: int, b: int) -> Mutation:
    """Exchange the header, hash and size of two blocks (hash and size are unique: via temps)."""

    def mutate(conn: Connection) -> None:
        rows = {
            h: conn.execute(
                text("SELECT header, hash, size FROM blocks WHERE height = :h"), {"h": h}
            ).one()
            for h in (a, b)
        }
        update = "UPDATE blocks SET header = :header, hash = :hash, size = :size WHERE height = :h"
        execute(conn, update, header=b"{}", hash=b"\xff" * 32, size=10**9, h=a)
        execute(conn, update, header=rows[a].header, hash=rows[a].hash, size=rows[a].size, h=b)
        execute(conn, update, header=rows[b].header, hash=rows[b].hash, size=rows[b].size, h=a)

    return mutate


def duplicate_entry_beyond_the_tree(conn: Connection) -> None:
    execute(
        conn,
        "INSERT INTO entries (idx, tx_id, org, type, data, block_height) "
        "SELECT :new, :tx, org, type, data, block_height FROM entries WHERE idx = :old",
        new=SIZE,
        tx="f" * 64,
        old=LAST,
    )


def replayed_log_signature_as_cosignature(size: int) -> Mutation:
    """A cosignature row holding the log's own (valid) signature line: not a witness's."""

    def mutate(conn: Connection) -> None:
        note = fetch(conn, "SELECT note FROM checkpoints WHERE size = :s", s=size)
        line = note.rstrip("\n").split("\n")[-1]
        execute(
            conn,
            "INSERT INTO cosignatures (size, witness, line) VALUES (:s, :w, :l)",
            s=size,
            w="writer-b",
            l=line,
        )

    return mutate


# --- the cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Mutation
    where: str  # what the audit must name: "entry 17", "block 3", "table nodes"
    quick: bool = False  # also run under -m "not slow"


def entry_flip(idx: int, label: str, locate: Locate, quick: bool = False) -> Case:
    return Case(
        f"entry-{idx}-{label}",
        flip_byte("entries", "data", "idx = :i", locate, i=idx),
        f"entry {idx}",
        quick,
    )


def node_flip(level: int, i: int, byte: int, quick: bool = False) -> Case:
    return Case(
        f"node-{level}-{i}-byte-{byte}",
        flip_byte("nodes", "hash", "level = :l AND idx = :i", at(byte), l=level, i=i),
        f"block {block_completing(level, i)}",
        quick,
    )


def header_flip(height: int, label: str, locate: Locate, quick: bool = False) -> Case:
    return Case(
        f"header-{height}-{label}",
        flip_byte("blocks", "header", "height = :h", locate, h=height),
        f"block {height}",
        quick,
    )


def header_field(name: str, skip: int) -> Locate:
    def locate(data: bytes) -> int:
        key = f'"{name}":'.encode()
        start = data.index(key) + len(key)
        return start + (1 if data[start] == ord('"') else 0) + skip

    return locate


MID_ENTRY, MID_BLOCK = SIZE // 2, LAST_BLOCK // 2
SIG_CHARS = 88  # standard base64 of a 64-byte Ed25519 signature: 86 characters and "=="

CASES: list[Case] = [
    # entries.data: first, middle and last entry; first, middle and last byte; every field
    entry_flip(0, "first-byte", at(0)),
    entry_flip(0, "middle-byte-genesis-body", middle),
    entry_flip(0, "sig", in_field("sig", 40)),
    entry_flip(0, "last-byte", at(-1)),
    entry_flip(1, "body", in_field("body", 3)),
    entry_flip(1, "key-id", in_field("key", 5)),
    entry_flip(MID_ENTRY, "middle-byte", middle),
    entry_flip(MID_ENTRY, "nonce", in_field("nonce", 5)),
    entry_flip(MID_ENTRY, "sig-middle", in_field("sig", SIG_CHARS // 2), quick=True),
    entry_flip(MID_ENTRY, "sig-last-data-char", in_field("sig", SIG_CHARS - 3)),
    entry_flip(MID_ENTRY, "ts-milliseconds", in_field("ts", 21)),
    entry_flip(MID_ENTRY, "org", in_field("org", 2)),
    entry_flip(LAST, "first-byte", at(0)),
    entry_flip(LAST, "body-text", in_field("body", 10)),
    entry_flip(LAST, "sig-first-char", in_field("sig", 0)),
    entry_flip(LAST, "type", in_field("type", 7)),
    entry_flip(LAST, "version", in_field("v", 0)),
    entry_flip(LAST, "last-byte", at(-1)),
    # nodes.hash: levels 0, 1, middle levels and the highest, sampled indexes and bytes
    node_flip(0, 0, 0),
    node_flip(0, MID_ENTRY, 15),
    node_flip(0, LAST, 31),
    node_flip(1, 0, 31),
    node_flip(1, 57, 0),
    node_flip(1, LAST // 2 - 1, 15),  # (1, 109): leaves 218-219
    node_flip(3, 20, 7),
    node_flip(6, 0, 20),
    node_flip(TOP_LEVEL, 0, 15, quick=True),
    # blocks.header: genesis, a middle and the last block; first, middle, last byte and fields
    header_flip(0, "first-byte", at(0)),
    header_flip(0, "middle-byte", middle),
    header_flip(0, "last-byte", at(-1)),
    header_flip(0, "prev", header_field("prev", 10)),
    header_flip(MID_BLOCK, "first-byte", at(0)),
    header_flip(MID_BLOCK, "middle-byte", middle, quick=True),
    header_flip(MID_BLOCK, "last-byte", at(-1)),
    header_flip(MID_BLOCK, "root", header_field("root", 20)),
    header_flip(MID_BLOCK, "size", header_field("size", 1)),
    header_flip(MID_BLOCK, "time-seconds", header_field("time", 18)),
    header_flip(LAST_BLOCK, "first-byte", at(0)),
    header_flip(LAST_BLOCK, "middle-byte", middle),
    header_flip(LAST_BLOCK, "last-byte", at(-1)),
    header_flip(LAST_BLOCK, "count", header_field("count", 0)),
    # blocks.hash
    *(
        Case(
            f"block-hash-{h}-byte-{b}",
            flip_byte("blocks", "hash", "height = :h", at(b), h=h),
            f"block {h}",
        )
        for h, b in ((0, 0), (MID_BLOCK, 16), (LAST_BLOCK, 31))
    ),
    # checkpoints.note: the size line, the root line and the log's signature line
    *(
        Case(
            f"checkpoint-{h}-{label}",
            change_note_char(h, line, skip),
            f"block {h}",
            quick=(h, line) == (LAST_BLOCK, 4),
        )
        for h in (0, MID_BLOCK, LAST_BLOCK)
        for label, line, skip in (("size", 1, 0), ("root", 2, 17), ("signature", 4, 50))
    ),
    # deleted rows
    Case("delete-entry-0", sql("DELETE FROM entries WHERE idx = 0"), "entry 0"),
    Case(
        f"delete-entry-{MID_ENTRY}",
        sql(f"DELETE FROM entries WHERE idx = {MID_ENTRY}"),
        f"entry {MID_ENTRY}",
        quick=True,
    ),
    Case(f"delete-entry-{LAST}", sql(f"DELETE FROM entries WHERE idx = {LAST}"), f"entry {LAST}"),
    Case(
        "delete-node-2-9",
        sql("DELETE FROM nodes WHERE level = 2 AND idx = 9"),
        f"block {block_completing(2, 9)}",
    ),
    Case(
        f"delete-node-{TOP_LEVEL}-0",
        sql(f"DELETE FROM nodes WHERE level = {TOP_LEVEL} AND idx = 0"),
        f"block {block_completing(TOP_LEVEL, 0)}",
    ),
    Case("delete-block-0", sql("DELETE FROM blocks WHERE height = 0"), "block 0"),
    Case(
        f"delete-block-{MID_BLOCK}",
        sql(f"DELETE FROM blocks WHERE height = {MID_BLOCK}"),
        f"block {MID_BLOCK}",
        quick=True,
    ),
    # Without its last block, the ledger's first bad entry is the first one no block holds.
    Case(
        f"delete-block-{LAST_BLOCK}",
        sql(f"DELETE FROM blocks WHERE height = {LAST_BLOCK}"),
        f"entry {BLOCKS[-1][1]}",
    ),
    Case("delete-checkpoint-0", sql("DELETE FROM checkpoints WHERE block_height = 0"), "block 0"),
    Case("delete-checkpoint-5", sql("DELETE FROM checkpoints WHERE block_height = 5"), "block 5"),
    Case("delete-nonce-0", sql("DELETE FROM nonces WHERE idx = 0"), "entry 0"),
    Case("delete-nonce-140", sql("DELETE FROM nonces WHERE idx = 140"), "entry 140"),
    # swapped rows and values
    Case("swap-entry-data-40-41", swap_column("entries", "data", "idx", 40, 41), "entry 40"),
    Case(
        "swap-entry-data-15-200",
        swap_column("entries", "data", "idx", 15, 200),
        "entry 15",
        quick=True,
    ),
    Case("swap-entry-rows-40-41", renumber_swap("entries", "idx", 40, 41), "entry 40"),
    Case(
        "swap-node-hashes-0-60-and-0-61",
        swap_node_hashes((0, 60), (0, 61)),
        f"block {block_completing(0, 60)}",
    ),
    Case(
        "swap-node-hashes-1-30-and-1-80",
        swap_node_hashes((1, 30), (1, 80)),
        f"block {block_completing(1, 30)}",
    ),
    Case(
        "swap-node-hashes-0-5-and-3-20",
        swap_node_hashes((0, 5), (3, 20)),
        f"block {block_completing(0, 5)}",
    ),
    Case("swap-block-rows-3-4", swap_block_rows(3, 4), "block 3"),
    Case(
        "swap-checkpoint-notes-2-6",
        swap_column("checkpoints", "note", "block_height", 2, 6),
        "block 2",
    ),
    Case("swap-nonce-rows-20-21", renumber_swap("nonces", "idx", 20, 21), "entry 20"),
    # The checkpoint rows of blocks 2 and 6 claim each other's block (every constraint still
    # holds); nothing but the audit reads checkpoints.block_height.
    Case(
        "swap-checkpoint-block-heights-2-6",
        renumber_swap("checkpoints", "block_height", 2, 6),
        "block 2",
    ),
    # cosignatures: a real one changed, or moved to another checkpoint
    Case(
        f"cosignature-{COSIGNED[1]}-char",
        change_cosignature_char(COSIGNED[1], 60),
        f"block {COSIGNED[1]}",
    ),
    Case(
        f"cosignature-{COSIGNED[0]}-moved-to-block-4",
        sql(f"UPDATE cosignatures SET size = {size_of(4)} WHERE size = {size_of(COSIGNED[0])}"),
        "block 4",
    ),
    # added rows
    Case(
        f"extra-node-0-{SIZE}",
        sql(
            f"INSERT INTO nodes (span, level, idx, hash) SELECT {node_span(0, SIZE)}, 0, {SIZE}, "
            "hash FROM nodes WHERE level = 0 AND idx = 0"
        ),
        "table nodes",
        quick=True,
    ),
    Case(
        f"extra-node-{TOP_LEVEL + 1}-0",
        sql(
            f"INSERT INTO nodes (span, level, idx, hash) SELECT {node_span(TOP_LEVEL + 1, 0)}, "
            f"{TOP_LEVEL + 1}, 0, hash FROM nodes WHERE level = {TOP_LEVEL} AND idx = 0"
        ),
        "table nodes",
    ),
    Case(f"extra-entry-{SIZE}", duplicate_entry_beyond_the_tree, f"entry {SIZE}"),
    Case(
        "extra-nonce",
        sql(
            "INSERT INTO nonces (org, nonce, idx) "
            "VALUES ('writer-a', 'AAAAAAAAAAAAAAAAAAAAAA', 9999)"
        ),
        "table nonces",
    ),
    Case(
        "extra-checkpoint",
        sql(
            "INSERT INTO checkpoints (size, block_height, note) "
            f"SELECT 5, {LAST_BLOCK + 5}, note FROM checkpoints WHERE size = {SIZE}"
        ),
        "table checkpoints",
    ),
    Case(
        "extra-cosignature-replaying-the-log-signature",
        replayed_log_signature_as_cosignature(size_of(3)),
        "block 3",
    ),
    # changed columns
    Case(
        "entry-12-tx-id",
        sql("UPDATE entries SET tx_id = '" + "0" * 64 + "' WHERE idx = 12"),
        "entry 12",
    ),
    Case(
        "entry-13-org",
        sql(
            "UPDATE entries SET org = CASE org WHEN 'writer-a' THEN 'writer-b' "
            "ELSE 'writer-a' END WHERE idx = 13"
        ),
        "entry 13",
    ),
    Case(
        "entry-14-type", sql("UPDATE entries SET type = 'sample.other' WHERE idx = 14"), "entry 14"
    ),
    Case(
        "entry-100-block-height",
        sql("UPDATE entries SET block_height = 2 WHERE idx = 100"),
        "entry 100",
    ),
    Case(
        "nonce-15-value",
        sql("UPDATE nonces SET nonce = 'AAAAAAAAAAAAAAAAAAAAAA' WHERE idx = 15"),
        "entry 15",
    ),
    Case(
        "block-5-size-column",
        sql(f"UPDATE blocks SET size = {size_of(5) + 1} WHERE height = 5"),
        "block 5",
    ),
    Case(  # a single changed byte; only the foreign key objects, and SQLite's is optional
        f"checkpoint-{LAST_BLOCK}-block-height-column",
        sql(
            f"UPDATE checkpoints SET block_height = {LAST_BLOCK + 1} "
            f"WHERE block_height = {LAST_BLOCK}"
        ),
        f"block {LAST_BLOCK}",
    ),
    Case(
        f"block-{LAST_BLOCK}-height-column",
        sql(f"UPDATE blocks SET height = {LAST_BLOCK + 1} WHERE height = {LAST_BLOCK}"),
        f"block {LAST_BLOCK}",
    ),
    # the membership projection, which the live checks read instead of the entries
    Case(
        "member-role-granted",
        sql(
            'UPDATE members SET roles = \'["ledger.admin","sample.writer"]\' '
            "WHERE org = 'writer-a'"
        ),
        "table members",
        quick=True,
    ),
    Case(
        "member-deactivated",
        sql("UPDATE members SET active = false WHERE org = 'reader'"),
        "table members",
    ),
    Case(
        "member-key-added",
        sql(
            "INSERT INTO member_keys (org, key_id, vkey, added_at, revoked_at) "
            "SELECT org, 'deadbeef', vkey, added_at, NULL FROM member_keys WHERE org = 'writer-a'"
        ),
        "table member_keys",
        quick=True,
    ),
    Case(
        "member-renamed",
        sql("UPDATE members SET name = 'Someone else' WHERE org = 'writer-b'"),
        "table members",
    ),
    Case(
        "member-updated-at",
        sql("UPDATE members SET updated_at = 7 WHERE org = 'reader'"),
        "table members",
    ),
    Case(
        "member-key-vkey-swapped",
        sql(
            "UPDATE member_keys SET vkey = (SELECT vkey FROM member_keys WHERE org = 'writer-b') "
            "WHERE org = 'writer-a'"
        ),
        "table member_keys",
    ),
    Case(
        "member-key-revoked",
        sql("UPDATE member_keys SET revoked_at = 5 WHERE org = 'writer-b'"),
        "table member_keys",
    ),
]

assert len({c.id for c in CASES}) == len(CASES)
SLOW = pytest.mark.slow


def test_untouched_copy_passes_the_audit(built: Built, tmp_path: Path) -> None:
    """The control: the copying itself breaks nothing, so every failure below is the tamper's."""
    with tampered_copy(built, tmp_path, None) as copy:
        result = run_audit(copy)
    assert result.exit_code == 0, result.output
    summary = (
        f"audit ok: {SIZE} entries, {len(BLOCKS)} blocks, {len(BLOCKS)} checkpoints, "
        f"{len(COSIGNED)} cosignatures"
    )
    assert summary in result.output, result.output


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.id, marks=() if c.quick else SLOW) for c in CASES]
)
def test_tampering_is_found_and_named(built: Built, tmp_path: Path, case: Case) -> None:
    with tampered_copy(built, tmp_path, case.mutate) as copy:
        result = run_audit(copy)
    assert result.exit_code == 1, result.output
    assert f"audit FAILED at {case.where}: {case.where}:" in result.output, result.output


def test_audit_command_exits_1_in_a_subprocess(built: Built, tmp_path: Path) -> None:
    """The installed `sealchain` script, not just the typer app: exit status and message."""
    script = Path(sys.executable).with_name("sealchain")  # this environment's, not PATH's first
    sealchain = str(script) if script.exists() else shutil.which("sealchain")
    assert sealchain, "the sealchain console script is not installed"
    case = next(c for c in CASES if c.id == f"entry-{MID_ENTRY}-sig-middle")
    with tampered_copy(built, tmp_path, case.mutate) as copy:
        env = {**os.environ, **copy.env, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
        done = subprocess.run(
            [sealchain, "audit", "--home", str(copy.home)],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"audit FAILED at entry {MID_ENTRY}: entry {MID_ENTRY}:" in done.stdout, done.stdout


# --- app projections: `sealchain audit --projections` ---------------------------------------------

# fill() claims item-<n> for every n divisible by 5 (44 claims; writer-b when n % 3 == 0) and
# counts the other entries as notes of writer-a and writer-b: 46 derived rows in 2 tables.
PROJECTED_ROWS = 44 + 2

PROJECTION_CASES = [
    Case(
        "claim-holder-changed",
        sql("UPDATE sample_claims SET org = 'writer-a' WHERE item = 'item-0'"),
        "table sample_claims: row item='item-0' differs from a replay of the entries in org",
    ),
    Case(
        "claim-deleted",
        sql("DELETE FROM sample_claims WHERE item = 'item-5'"),
        "table sample_claims: lacks the row item='item-5', which the entries produce",
    ),
    Case(
        "claim-invented",
        sql("INSERT INTO sample_claims (item, org, idx) VALUES ('item-999', 'writer-a', 3)"),
        "table sample_claims: holds the row item='item-999', which no entry produces",
    ),
    Case(
        "note-count-changed",
        sql("UPDATE sample_note_counts SET notes = notes + 1 WHERE org = 'writer-a'"),
        "table sample_note_counts: row org='writer-a' differs from a replay of the entries "
        "in notes",
    ),
]


def test_projections_of_an_untouched_copy_equal_a_replay(built: Built, tmp_path: Path) -> None:
    with tampered_copy(built, tmp_path, None) as copy:
        result = run_audit(copy, "--projections")
    assert result.exit_code == 0, result.output
    # 2 tables of the sample app, and those of any other installed app (empty here)
    found = re.search(
        r"projections ok: (\d+) rows in (\d+) tables equal a replay of (\d+)", result.output
    )
    assert found, result.output
    rows, tables, entries = map(int, found.groups())
    assert (rows, entries) == (PROJECTED_ROWS, SIZE) and tables >= 2, result.output


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in PROJECTION_CASES])
def test_edited_projection_is_found_only_with_projections(
    built: Built, tmp_path: Path, case: Case
) -> None:
    with tampered_copy(built, tmp_path, case.mutate) as copy:
        plain = run_audit(copy)
        first = run_audit(copy, "--projections")
        again = run_audit(copy, "--projections")
    assert plain.exit_code == 0, plain.output  # the entries themselves are all intact
    assert first.exit_code == 1, first.output
    table, detail = case.where.split(": ", 1)
    expected = f"projections FAILED at {table}: {table}: {detail}"
    assert expected in " ".join(first.output.split()), first.output
    # The replay was rolled back, not kept: the edited row is still there to be found.
    assert again.exit_code == 1 and again.output == first.output, again.output
