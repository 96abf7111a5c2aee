"""`sealchain bench consortium`: what three validating witnesses cost the log, and how soon
a commit is final.

(a) batch ingest (1000-entry batches into `serve --workers 2`) on a ledger whose policy asks
    2 of 3 witnesses, with the three `sealchain witness` processes replaying and cosigning,
    against the same ingest with no witness, alternating, each round on a fresh ledger;
(b) from a single submit's 201 to a quorum-cosigned checkpoint holding it (GET its receipt
    until `Sealchain-Final: true`), median and p99 over sequential submits;
(c) tile reads per second (`GET /tile/0/000`, 32 clients) against the same run's hello-world,
    both with two workers.

On one machine the witnesses share its cores with the log (each re-verifies every signature),
which a consortium spread over its members' machines does not: (a) is the worst case.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from rich.console import Console

from ledger.bench.api import BENCH_APP_SPEC, _bench_home, _load, _measure, serving_hello
from ledger.bench.loadgen import run_wrk, wrk_available
from ledger.bench.report import BenchRow
from ledger.client import LedgerClient
from ledger.core.envelope import sign_envelope
from ledger.core.receipt import FINAL_HEADER
from ledger.home import Home
from ledger.process import consortium, free_port

WITNESSES = ("witness-a", "witness-b", "witness-c")
ENV = {"SEALCHAIN_EXTRA_APPS": BENCH_APP_SPEC}


@contextmanager
def _ledger(root: Path, witnesses: bool) -> Iterator[tuple[Path, str]]:
    """A fresh bench ledger served with two workers, with its three witnesses or none."""
    home = _bench_home(root, WITNESSES, quorum=2) if witnesses else _bench_home(root)
    ports = {name: free_port() for name in WITNESSES} if witnesses else {}
    with consortium(home, free_port(), ports, env=ENV, serve_options=("--workers", "2")) as (
        url,
        _,
    ):
        yield home, url


def _ingest(seconds: float, witnesses: bool) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="sealchain-bench-consortium-") as tmp,
        _ledger(Path(tmp), witnesses) as (home, url),
    ):
        result = _measure(
            "batch", url, home, seconds, requests=int(25 * seconds), batch=1000, concurrency=4
        )
        if witnesses:
            result["final_lag_s"] = _until_final(url, home)
    return result


def _until_final(url: str, home: Path, limit: float = 300.0) -> float:
    """Seconds from now until the latest checkpoint is final (the witnesses caught up)."""
    started = time.perf_counter()
    with LedgerClient(url, policy=Home(home).trust_policy()) as client:
        client.wait_for_final_checkpoint(limit)
    return time.perf_counter() - started


def _finality_latencies(url: str, home: Path, count: int) -> list[float]:
    """For `count` sequential submits: seconds from the 201 to a final receipt."""
    signer = Home(home).member_signer("bench-writer")
    latencies = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(count):
            envelope = sign_envelope(
                signer, type="bench.note", org="bench-writer", body={"text": f"final {i}"}
            )
            answer = client.post("/v1/entries", content=envelope.raw)
            committed = time.perf_counter()
            answer.raise_for_status()
            final = answer.headers.get(FINAL_HEADER) == "true"
            while not final:
                time.sleep(0.002)
                got = client.get(f"/v1/receipts/{envelope.tx_id}")
                final = got.headers.get(FINAL_HEADER) == "true"
            latencies.append(time.perf_counter() - committed)
    return latencies


def _get_rps(url: str, path: str, seconds: float) -> float:
    """GET requests/s at 32 clients: wrk when installed; the Python load generator is ten times
    slower than the servers it measures here (305 against wrk's 3,479 on hello-world)."""
    if wrk_available():
        return run_wrk(url, path, method="GET", lines=[], concurrency=32, seconds=seconds)["rps"]
    return _load("hello", url, seconds=seconds, requests=10**6, path=path)["rps"]


def run(*, quick: bool = False, console: Console | None = None) -> list[BenchRow]:
    """Batch ingest with three cosigning witnesses against none; commit-to-final latency;
    tile reads against hello-world."""
    console = console or Console()
    seconds = 2.0 if quick else 4.0
    rounds = 1 if quick else 3
    plain: list[float] = []
    witnessed: list[float] = []
    lags: list[float] = []
    for round_number in range(rounds):
        console.print(f"round {round_number + 1}/{rounds}: ingest without, then with witnesses")
        plain.append(_ingest(seconds, witnesses=False)["items_per_second"])
        result = _ingest(seconds, witnesses=True)
        witnessed.append(result["items_per_second"])
        lags.append(result["final_lag_s"])

    samples = 20 if quick else 100
    with (
        tempfile.TemporaryDirectory(prefix="sealchain-bench-consortium-") as tmp,
        _ledger(Path(tmp), witnesses=True) as (home, url),
    ):
        console.print(f"commit to final: {samples} sequential submits")
        _finality_latencies(url, home, 3)  # warm up: the witnesses' first replay
        latencies = sorted(_finality_latencies(url, home, samples))
        # (c): tile reads from a log with a full first tile.
        _measure("batch", url, home, 1.0, requests=2, batch=1000, concurrency=1)
        with serving_hello(workers=2) as hello_url:  # as the ledger: two workers
            hello, tiles = [], []
            for _ in range(rounds):
                hello.append(_get_rps(hello_url, "/hello", seconds))
                tiles.append(_get_rps(url, "/tile/0/000", seconds))
    median_plain = statistics.median(plain)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return [
        BenchRow("consortium.ingest.entries_per_s.witnesses=0", median_plain, "entries/s"),
        BenchRow(
            "consortium.ingest.entries_per_s.witnesses=3",
            statistics.median(witnessed),
            "entries/s",
            baseline=median_plain,
            goal=0.9,
        ),
        BenchRow("consortium.ingest.final_lag_s.witnesses=3", statistics.median(lags), "s"),
        BenchRow("consortium.final.median_ms", statistics.median(latencies) * 1000, "ms"),
        BenchRow("consortium.final.p99_ms", p99 * 1000, "ms"),
        BenchRow("consortium.hello.rps", statistics.median(hello), "requests/s"),
        BenchRow(
            "consortium.tile.rps",
            statistics.median(tiles),
            "requests/s",
            baseline=statistics.median(hello),
        ),
    ]
