"""Tampering with any stored byte or row is found by `sealchain audit`, which exits 1 and names
the first bad entry or block — on SQLite and PostgreSQL, for a ledger of 221 entries in 9
blocks, with positions sampled in every raw table."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from ledger.cli import app
from tests.conftest import create_pg_database, drop_pg_database
from tests.support.ledgers import make_ledger

ENTRIES, PER_BLOCK = 220, 30  # + genesis: 221 entries, blocks of 1, 30 x 7 and 10
Mutation = Callable[[Connection], None]


@dataclass
class Built:
    home: Path
    database_url: str | None
    blocks: list[tuple[int, int, int]]  # (height, first, size)


def block_of(built: Built, index: int) -> int:
    return next(h for h, first, size in built.blocks if first <= index < size)


def block_completing(built: Built, level: int, i: int) -> int:
    """The block in which node (level, i) became complete: when its last leaf was appended."""
    return block_of(built, ((i + 1) << level) - 1)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    url = None if request.param == "sqlite" else create_pg_database()
    ledger = make_ledger(tmp_path_factory.mktemp("built") / "home", url)
    ledger.fill(ENTRIES, PER_BLOCK)
    with ledger.node.engine.connect() as conn:
        rows = conn.execute(text("SELECT height, header FROM blocks ORDER BY height")).all()
    blocks = []
    for height, header in rows:
        h = json.loads(bytes(header))
        blocks.append((height, h["first"], h["size"]))
    ledger.close()
    yield Built(ledger.settings.home, url, blocks)
    if url:
        drop_pg_database(url)


def tampered_copy(built: Built, tmp: Path, mutate: Mutation) -> tuple[Path, dict[str, str]]:
    home = tmp / "copy"
    shutil.copytree(built.home, home)
    env: dict[str, str] = {}
    if built.database_url:
        template = make_url(built.database_url).database
        url = create_pg_database(template=template)
        env["SEALCHAIN_DATABASE_URL"] = url
    else:
        url = f"sqlite:///{home / 'ledger.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        mutate(conn)
    engine.dispose()
    return home, env


def flip_blob(table: str, column: str, key: str, key_value: int, position: int) -> Mutation:
    def mutate(conn: Connection) -> None:
        value = conn.execute(
            text(f"SELECT {column} FROM {table} WHERE {key} = :k"), {"k": key_value}
        ).scalar_one()
        data = bytearray(value.encode() if isinstance(value, str) else bytes(value))
        at = position % len(data)
        data[at] = (
            data[at] ^ 0x01
            if isinstance(value, bytes)
            else (ord("A") if data[at] != ord("A") else ord("B"))
        )
        new = bytes(data) if isinstance(value, (bytes, memoryview)) else data.decode()
        conn.execute(
            text(f"UPDATE {table} SET {column} = :v WHERE {key} = :k"), {"v": new, "k": key_value}
        )

    return mutate


def flip_node(level: int, i: int) -> Mutation:
    def mutate(conn: Connection) -> None:
        digest = bytearray(
            conn.execute(
                text("SELECT hash FROM nodes WHERE level = :l AND idx = :i"), {"l": level, "i": i}
            ).scalar_one()
        )
        digest[7] ^= 0x80
        conn.execute(
            text("UPDATE nodes SET hash = :h WHERE level = :l AND idx = :i"),
            {"h": bytes(digest), "l": level, "i": i},
        )

    return mutate


def sql(*statements: str) -> Mutation:
    def mutate(conn: Connection) -> None:
        for statement in statements:
            conn.execute(text(statement))

    return mutate


def swap_entries(a: int, b: int) -> Mutation:
    def mutate(conn: Connection) -> None:
        da = conn.execute(text("SELECT data FROM entries WHERE idx = :i"), {"i": a}).scalar_one()
        db = conn.execute(text("SELECT data FROM entries WHERE idx = :i"), {"i": b}).scalar_one()
        conn.execute(text("UPDATE entries SET data = :d WHERE idx = :i"), {"d": db, "i": a})
        conn.execute(text("UPDATE entries SET data = :d WHERE idx = :i"), {"d": da, "i": b})

    return mutate


def cases(b: Built) -> list[tuple[str, Mutation, str]]:
    """(id, mutation, the place the audit must name)."""
    last = b.blocks[-1][2] - 1
    top = (last + 1).bit_length() - 2  # a level with at least one complete node
    out: list[tuple[str, Mutation, str]] = []
    for idx in (0, 1, 110, last):
        for pos in (0, 40, 150, -30, -3):  # body, envelope fields, signature, end
            out.append(
                (
                    f"entry-{idx}-byte-{pos}",
                    flip_blob("entries", "data", "idx", idx, pos),
                    f"entry {idx}",
                )
            )
    for level, i in ((0, 0), (0, 157), (1, 50), (3, 10), (top, 0)):
        out.append(
            (f"node-{level}-{i}", flip_node(level, i), f"block {block_completing(b, level, i)}")
        )
    for height in (0, 4, len(b.blocks) - 1):
        for pos in (2, 60, -5):
            out.append(
                (
                    f"header-{height}-byte-{pos}",
                    flip_blob("blocks", "header", "height", height, pos),
                    f"block {height}",
                )
            )
        out.append(
            (
                f"block-hash-{height}",
                flip_blob("blocks", "hash", "height", height, 5),
                f"block {height}",
            )
        )
    for height, _, size in (b.blocks[0], b.blocks[3], b.blocks[-1]):
        for pos in (len("sealchain.test/log\n") + 1, -20, -70):  # size line, signature, root
            out.append(
                (
                    f"checkpoint-{size}-char-{pos}",
                    flip_blob("checkpoints", "note", "size", size, pos),
                    f"block {height}",
                )
            )
    out += [
        ("delete-entry-77", sql("DELETE FROM entries WHERE idx = 77"), "entry 77"),
        (
            "delete-last-entry",
            sql(
                f"DELETE FROM nonces WHERE idx = {last}", f"DELETE FROM entries WHERE idx = {last}"
            ),
            f"entry {last}",
        ),
        (
            "delete-node",
            sql("DELETE FROM nodes WHERE level = 2 AND idx = 9"),
            f"block {block_completing(b, 2, 9)}",
        ),
        (
            "delete-block",
            sql(
                "DELETE FROM checkpoints WHERE block_height = 5",
                "UPDATE entries SET block_height = 4 WHERE block_height = 5",
                "DELETE FROM blocks WHERE height = 5",
            ),
            "block 5",
        ),
        ("delete-checkpoint", sql("DELETE FROM checkpoints WHERE block_height = 2"), "block 2"),
        ("delete-nonce", sql("DELETE FROM nonces WHERE idx = 33"), "entry 33"),
        ("swap-entries", swap_entries(40, 41), "entry 40"),
        (
            "swap-nodes",
            sql(
                "UPDATE nodes SET level = 99 WHERE level = 0 AND idx = 60",
                "UPDATE nodes SET idx = 60 WHERE level = 0 AND idx = 61",
                "UPDATE nodes SET level = 0, idx = 61 WHERE level = 99",
            ),
            f"block {block_of(b, 60)}",
        ),
        (
            "extra-node",
            sql(
                f"INSERT INTO nodes (level, idx, hash) SELECT 0, {last + 5}, hash FROM nodes "
                "WHERE level = 0 AND idx = 0"
            ),
            "table nodes",
        ),
        (
            "tx-id-column",
            sql("UPDATE entries SET tx_id = '" + "0" * 64 + "' WHERE idx = 12"),
            "entry 12",
        ),
        (
            "nonce-column",
            sql("UPDATE nonces SET nonce = 'AAAAAAAAAAAAAAAAAAAAAA' WHERE idx = 15"),
            "entry 15",
        ),
        (
            "entry-moved-block",
            sql("UPDATE entries SET block_height = 2 WHERE idx = 100"),
            "entry 100",
        ),
    ]
    return out


def audit(home: Path, env: dict[str, str]):
    return CliRunner().invoke(app, ["audit", "--home", str(home)], env=env)


def test_untouched_copy_passes(built: Built, tmp_path: Path) -> None:
    home, env = tampered_copy(built, tmp_path, sql())
    result = audit(home, env)
    assert result.exit_code == 0, result.output
    assert "221 entries, 9 blocks" in result.output


CASE_IDS = [
    "entry-bytes",
    "nodes",
    "headers-and-hashes",
    "checkpoints",
    "rows",
]


@pytest.mark.parametrize("group", CASE_IDS)
def test_every_tampering_is_found_and_named(built: Built, tmp_path: Path, group: str) -> None:
    prefix = {
        "entry-bytes": ("entry-",),
        "nodes": ("node-",),
        "headers-and-hashes": ("header-", "block-hash-"),
        "checkpoints": ("checkpoint-",),
        "rows": ("delete-", "swap-", "extra-", "tx-id", "nonce-column", "entry-moved"),
    }[group]
    chosen = [c for c in cases(built) if c[0].startswith(prefix)]
    assert chosen
    failures = []
    for n, (name, mutate, where) in enumerate(chosen):
        home, env = tampered_copy(built, tmp_path / f"{n}", mutate)
        result = audit(home, env)
        named = f"at {where}:" in result.output
        if result.exit_code != 1 or not named:
            failures.append(
                f"{name}: exit {result.exit_code}, wanted {where!r}: {result.output.strip()[:300]}"
            )
        if env:
            drop_pg_database(env["SEALCHAIN_DATABASE_URL"])
    assert failures == []
