"""`sealchain bench evidence`: deposits/s through the batch route against one core's raw Ed25519
verify rate, similarity search at 10^4 and 10^5 registered works, and RFC 3161 tokens/s from
the HTTP TSA, each beside a baseline measured in the same run.

Similarity search is measured on an index filled with random 64-bit codes: a search scans every
code whatever its origin, and the index catches up from the database by index, so the rows'
history does not change the cost of a query.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from apps.evidence import builders
from apps.evidence.demo import PLATFORM
from apps.evidence.similarity import TextIndex
from apps.evidence.tsa_query import timestamp_query
from ledger.core.envelope import sign_envelope
from ledger.plugin import (
    BenchRow,
    Home,
    Settings,
    demo_plan,
    ed25519_verifies_per_second,
    init_home,
    serving_ledger,
)

BATCH = 1000


def _deposits(home: Path, count: int) -> list[bytes]:
    """Signed deposit envelopes of random files, made before the clock starts."""
    signer = Home(home).member_signer(PLATFORM)
    made = []
    for n in range(count):
        record_type, body = builders.deposit(
            os.urandom(64), title=f"bench file {n}", media_type="application/octet-stream",
            operator=PLATFORM,
        )  # fmt: skip
        made.append(sign_envelope(signer, type=record_type, org=PLATFORM, body=body).raw)
    return made


def _ingest(url: str, envelopes: list[bytes]) -> float:
    """Deposits/s through POST /v1/entries/batch (receipts left out, as bulk clients do)."""
    with httpx.Client(base_url=url, timeout=120) as http:
        started = time.perf_counter()
        for i in range(0, len(envelopes), BATCH):
            body = b"[" + b",".join(envelopes[i : i + BATCH]) + b"]"
            answer = http.post(
                "/v1/entries/batch?receipts=false",
                content=body,
                headers={"content-type": "application/json"},
            )
            answer.raise_for_status()
        return len(envelopes) / (time.perf_counter() - started)


def _tokens(url: str, count: int, clients: int = 8) -> float:
    """RFC 3161 tokens/s from the HTTP TSA, `clients` at a time (each hash is sequenced first).

    Each client keeps its connection: a new httpx.Client per request cost this process 20-34 ms
    of CPU (building its TLS context), so the benchmark measured itself at about 55 a second."""
    queries = [timestamp_query(os.urandom(32)) for _ in range(count)]
    kept = threading.local()
    opened: list[httpx.Client] = []

    def ask(query: bytes) -> None:
        http = getattr(kept, "http", None)
        if http is None:
            http = kept.http = httpx.Client(base_url=url, timeout=60)
            opened.append(http)
        got = http.post(
            "/v1/evidence/tsa",
            content=query,
            headers={"content-type": "application/timestamp-query"},
        )
        got.raise_for_status()

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(ask, queries))
        return count / (time.perf_counter() - started)
    finally:
        for http in opened:
            http.close()


def _search_ms(size: int, queries: int = 200) -> tuple[float, float]:
    """Median ms of one similarity search over `size` codes, and of a bare loop over as many
    integers (the baseline: what any scan of the codes costs at least)."""
    rng = random.Random(size)
    index = TextIndex()
    index.load([(i, rng.getrandbits(64) - 2**63) for i in range(size)])
    codes = [c for _, c in index._codes]
    times, loops = [], []
    for _ in range(queries):
        probe = rng.getrandbits(64) - 2**63
        t0 = time.perf_counter()
        index.match(probe)
        t1 = time.perf_counter()
        sum(1 for c in codes if c == probe)
        t2 = time.perf_counter()
        times.append((t1 - t0) * 1000)
        loops.append((t2 - t1) * 1000)
    return statistics.median(times), statistics.median(loops)


def bench_evidence(*, quick: bool, console: Console) -> list[BenchRow]:
    deposits, stamps = (1_000, 30) if quick else (20_000, 500)
    verify_rate = ed25519_verifies_per_second(1.0 if quick else 3.0)
    with tempfile.TemporaryDirectory(prefix="sealchain-bench-evidence-") as tmp:
        home = Path(tmp) / "home"
        node, _ = init_home(Settings(home=home), demo_plan())
        node.close()
        envelopes = _deposits(home, deposits)
        # One client asks for every token: lift the per-client rate a demo server keeps.
        with serving_ledger(home, env={"SEALCHAIN_EVIDENCE_TSA_PER_MINUTE": "10000000"}) as url:
            ingest = _ingest(url, envelopes)
            tokens = _tokens(url, stamps)
    rows = [
        BenchRow(
            f"evidence.deposits_per_s.n={deposits}", ingest, "entries/s", verify_rate, goal=0.7
        ),
        BenchRow("evidence.tsa.tokens_per_s", tokens, "tokens/s", verify_rate),
    ]
    for size in (10_000, 100_000):
        median, loop = _search_ms(size, 20 if quick else 200)
        rows.append(BenchRow(f"evidence.similarity.median_ms.n={size}", median, "ms", loop))
    table = Table(title="sealchain bench evidence")
    for column in ("measure", "value", "baseline", "ratio"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    for row in rows:
        ratio = "" if row.baseline is None else f"{row.value / row.baseline:.2f}"
        baseline = "" if row.baseline is None else f"{row.baseline:,.1f}"
        table.add_row(row.name, f"{row.value:,.1f} {row.unit}", baseline, ratio)
    console.print(table)
    console.print(f"raw Ed25519 verify (one core, same run): {verify_rate:,.0f}/s")
    return rows
