"""`sealchain bench core`: the ledger's hot paths, each against a baseline of the same run.

1. raw Ed25519 verifications/s vs full envelope checks/s (strict parse + schema + JCS + verify);
2. sequencer appends/s into SQLite (the whole pipeline, one block per 500) vs a raw
   `executemany` of the same entry bytes with the same pragmas;
3. inclusion-proof time at 10^3, 10^5 and 10^6 entries (flat is the target: 10^6 within 2x of
   10^3), read from stored node hashes.
"""

from __future__ import annotations

import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated

import cryptography
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table

from ledger.config import Settings
from ledger.core import merkle
from ledger.core.block import GENESIS_PREV, BlockHeader
from ledger.core.envelope import format_ts, parse_envelope, sign_envelope
from ledger.core.keys import Signer
from ledger.service.app import App, RecordType
from ledger.service.consortium import ConsortiumPlan, OrgPlan
from ledger.service.membership import ADMIN_ROLE
from ledger.service.node import init_home
from ledger.service.pipeline import utc_now
from ledger.service.proofs import inclusion_proof
from ledger.storage.engine import make_engine, read_transaction, write_transaction
from ledger.storage.migrate import migrate
from ledger.storage.repository import Repository
from ledger.storage.tables import nodes


class BenchNote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(max_length=1000)]


BENCH_APP = App(
    name="bench",
    record_types=[RecordType("bench.note", BenchNote, frozenset({"bench.writer"}), "benchmark")],
)


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, cryptography {cryptography.__version__}, "
        f"{platform.system()} {platform.release()}"
    )


def _rate(work: object, seconds: float) -> float:
    """Calls per second of `work()` over about `seconds` of wall time."""
    assert callable(work)
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            work()
        calls += 50
    return calls / elapsed


def ed25519_verifies_per_second(seconds: float = 2.0) -> float:
    signer = Signer.generate("bench/verify")
    message = os.urandom(400)  # about the size of a signed envelope
    signature = signer.sign(message)
    verifier = signer.verifier
    return _rate(lambda: verifier.verify(message, signature), seconds)


def envelope_checks(seconds: float) -> tuple[float, float]:
    """(raw verify/s, full envelope checks/s) measured back to back."""
    signer = Signer.generate("bench.local/org/bench-writer")
    raw = sign_envelope(signer, type="bench.note", org="bench-writer", body={"text": "x" * 200}).raw
    verifier = signer.verifier
    envelope = parse_envelope(raw)
    message, signature = envelope.signed_message(), envelope.sig

    def full() -> None:
        parse_envelope(raw).verify_signature(verifier)

    return _rate(lambda: verifier.verify(message, signature), seconds), _rate(full, seconds)


def _bench_plan() -> ConsortiumPlan:
    return ConsortiumPlan(
        consortium="bench",
        namespace="bench.local",
        admins=["bench-admin"],
        orgs=[
            OrgPlan("bench-admin", "Admin", (ADMIN_ROLE,)),
            OrgPlan("bench-writer", "Writer", ("bench.writer",)),
        ],
    )


def sequencer_vs_executemany(root: Path, count: int, batch: int = 500) -> dict[str, float]:
    node, signers = init_home(Settings(home=root / "seq"), _bench_plan(), extra_apps=[BENCH_APP])
    assert node.sequencer is not None
    signer = signers["bench-writer"]
    raws = [
        sign_envelope(signer, type="bench.note", org="bench-writer", body={"text": f"n{i}"}).raw
        for i in range(count)
    ]
    precheck = commit = 0.0
    started = time.perf_counter()
    for i in range(0, count, batch):
        t0 = time.perf_counter()
        checked = node.sequencer.precheck_all(raws[i : i + batch])
        t1 = time.perf_counter()
        node.sequencer.commit_block(checked)  # type: ignore[arg-type]
        precheck += t1 - t0
        commit += time.perf_counter() - t1
    pipeline = time.perf_counter() - started
    node.close()

    db = sqlite3.connect(root / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    started = time.perf_counter()
    for i in range(0, count, batch):
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO entries VALUES (?, ?)",
            [(i + j, raw) for j, raw in enumerate(raws[i : i + batch])],
        )
        db.execute("COMMIT")
    raw_seconds = time.perf_counter() - started
    db.close()
    return {
        "sequencer_per_s": count / pipeline,
        "executemany_per_s": count / raw_seconds,
        "precheck_share": precheck / pipeline,
        "commit_share": commit / pipeline,
    }


def _tree_db(path: Path, size: int, console: Console) -> tuple[str, bytes]:
    """A database holding the stored nodes of a tree of `size` random leaves and one block."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrate(engine)
    tree = merkle.CompactRange()
    pending: list[dict[str, object]] = []
    with write_transaction(engine) as conn:
        for _ in range(size):
            for level, index, digest in tree.append(os.urandom(32)):
                pending.append({"level": level, "idx": index, "hash": digest})
            if len(pending) >= 20_000:
                conn.execute(nodes.insert(), pending)
                pending.clear()
        if pending:
            conn.execute(nodes.insert(), pending)
        root = tree.root()
        Repository(conn).insert_block(
            BlockHeader(0, GENESIS_PREV, format_ts(utc_now()), 0, size, size, root)
        )
    engine.dispose()
    console.print(f"  built a tree of {size:,} leaves", style="dim")
    return url, root


def proof_times(root: Path, sizes: list[int], samples: int, console: Console) -> dict[int, float]:
    """Median microseconds per inclusion proof (read + assemble + verify) at each size."""
    medians: dict[int, float] = {}
    for size in sizes:
        url, tree_root = _tree_db(root / f"tree-{size}.db", size, console)
        engine = make_engine(url)
        timings = []
        rng = random.Random(size)
        with read_transaction(engine) as conn:
            for _ in range(samples):
                index = rng.randrange(size)
                started = time.perf_counter()
                inclusion_proof(conn, index, size)
                timings.append(time.perf_counter() - started)
            index = rng.randrange(size)
            proof = inclusion_proof(conn, index, size)
            leaf = Repository(conn).get_nodes([(0, index)])[(0, index)]
            merkle.verify_inclusion(index, size, leaf, proof, tree_root)  # the proofs are right
        engine.dispose()
        medians[size] = statistics.median(timings) * 1e6
    return medians


def run(*, quick: bool = False, out: Console | None = None) -> dict[str, float]:
    console = out or Console()
    seconds = 1.0 if quick else 3.0
    figures: dict[str, float] = {}
    console.print("[bold]sealchain bench core[/bold]", machine_description())

    raw_rate, full_rate = envelope_checks(seconds)
    figures.update(raw_verify_per_s=raw_rate, envelope_check_per_s=full_rate)
    table = Table(title="1. signatures")
    for column in ("measure", "per second", "ratio"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    table.add_row("raw Ed25519 verify", f"{raw_rate:,.0f}", "1.00")
    table.add_row(
        "envelope check (parse, JCS, verify)", f"{full_rate:,.0f}", f"{full_rate / raw_rate:.2f}"
    )
    console.print(table)

    with tempfile.TemporaryDirectory(prefix="sealchain-bench-core-") as tmp:
        root = Path(tmp)
        seq = sequencer_vs_executemany(root, 1000 if quick else 5000)
        figures.update(seq)
        table = Table(title="2. appends into SQLite (WAL, synchronous=FULL, 500 per block)")
        for column in ("measure", "entries per second", "ratio"):
            table.add_column(column, justify="right" if column != "measure" else "left")
        table.add_row(
            "raw executemany of the same bytes", f"{seq['executemany_per_s']:,.0f}", "1.00"
        )
        table.add_row(
            "sequencer (steps 1-10, nodes, block, checkpoint)",
            f"{seq['sequencer_per_s']:,.0f}",
            f"{seq['sequencer_per_s'] / seq['executemany_per_s']:.2f}",
        )
        console.print(table)
        console.print(
            f"  pipeline time: {seq['precheck_share']:.0%} steps 1-8 outside the lock, "
            f"{seq['commit_share']:.0%} block commit"
        )

        sizes = [10**3, 10**4, 10**5] if quick else [10**3, 10**5, 10**6]
        medians = proof_times(root, sizes, 100 if quick else 300, console)
        table = Table(title="3. inclusion proof from stored nodes (median)")
        for column in ("tree size", "microseconds", "ratio to 10^3"):
            table.add_column(column, justify="right")
        for size, micros in medians.items():
            table.add_row(f"{size:,}", f"{micros:,.0f}", f"{micros / medians[sizes[0]]:.2f}")
            figures[f"proof_us_{size}"] = micros
        console.print(table)
        figures["proof_ratio_largest"] = medians[sizes[-1]] / medians[sizes[0]]
    return figures


__all__ = ["BENCH_APP", "ed25519_verifies_per_second", "machine_description", "run"]
