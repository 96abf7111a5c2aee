"""`sealchain bench beef`: the consumer's scan at 10^3, 10^5 and 10^6 packs (10^2, 10^3 and 10^4
with --quick): scan-page JSON requests/s and p99 against the bare hello-world of the same run,
the 10^6 figure against the 10^3 one (flat), and the serving worker's memory after the scans.

One ledger grows in steps: packs are commissioned in lots of PER_LOT straight through the
sequencer (real signatures, the whole pipeline); then `sealchain serve` (one worker, as the
baseline) is loaded by wrk (or the Python load generator where wrk is not installed) with the
paths of every 25th pack of every lot in random order, and stopped; then the ledger grows.

The flatness row is measured apart, after: a second ledger of the smallest size and the grown
one are served in turn for FLAT_ROUNDS rounds, the order turning each round, and the row is
the median of the rounds' ratios. The size rows are minutes apart, and this machine's speed
moves by more than the goal's margin within minutes (hello-world 2,616 and 4,921 requests/s in
two runs a day apart), so their ratio judged the minutes as much as the ledger's size.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from apps.beef import builders
from apps.beef.demo import BENCH_GTIN, lot_data
from apps.beef.identifiers import pack_id
from ledger.core.envelope import sign_envelope
from ledger.core.keys import Signer
from ledger.plugin import (
    BenchRow,
    Settings,
    demo_plan,
    init_home,
    run_wrk,
    serving_hello,
    serving_ledger,
    worker_memory,
    wrk_available,
)

SITE = builders.place("bench-meatworks", "Bench meatworks", "Rockhampton", "AU")
PER_LOT = 500
SIZES = (1_000, 100_000, 1_000_000)
QUICK_SIZES = (100, 1_000, 10_000)
SCAN_GOAL = 0.5  # of hello-world's requests/s, at the largest size
FLAT_GOAL = 0.83  # the largest size's requests/s over the smallest's: within 1.2x
P99_GOAL_MS = 100.0
CLIENTS = 32
FLAT_ROUNDS = 3  # each round serves the smallest ledger and the largest once, in turn


def commission(node: Any, signer: Signer, first: int, stop: int, paths: list[str]) -> None:
    """Commission packs first..stop-1 in lots of PER_LOT; append every 25th pack's path."""
    assert node.sequencer is not None
    for n in range(first, stop, PER_LOT):
        lot = f"B{n:07d}"  # named by its first pack: the lots of each step are new
        uris = [pack_id(BENCH_GTIN, lot, f"{i:05d}").uri() for i in range(min(PER_LOT, stop - n))]
        commissioned = builders.commission(
            uris, lot_data(lot, gtin=BENCH_GTIN, cattle=1), SITE, builders.now()
        )
        signed = [
            sign_envelope(signer, type=record_type, org="au-meatworks", body=body).raw
            for record_type, body in (commissioned, builders.lot_commitment(commissioned))
        ]
        for outcome in node.sequencer.submit(signed):
            if isinstance(outcome, Exception):
                raise outcome
        paths.extend(u[len("https://id.gs1.org") :] for u in uris[:: max(1, PER_LOT // 20)])


def bench_beef(*, quick: bool, console: Console) -> list[BenchRow]:
    """The scan rows at each size, and the flatness row."""
    sizes = QUICK_SIZES if quick else SIZES
    seconds = 3.0 if quick else 8.0
    rows: list[BenchRow] = []
    table = Table(title="sealchain bench beef: scan page JSON, one worker, 32 clients")
    for column in ("packs", "requests/s", "of hello", "p50 ms", "p99 ms", "worker MB"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="sealchain-bench-beef-") as tmp:
        home, listing = Path(tmp) / "home", Path(tmp) / "paths.json"
        with serving_hello() as url:
            hello = _scan_load(url, None, seconds)
        table.add_row(
            "hello-world",
            f"{hello['rps']:.0f}",
            "1",
            f"{hello['p50_ms']:.1f}",
            f"{hello['p99_ms']:.1f}",
            "",
        )
        node, signers = init_home(Settings(home=home), demo_plan())
        paths: list[str] = []
        made, rates = 0, {}
        try:
            for size in sizes:
                started = time.perf_counter()
                commission(node, signers["au-meatworks"], made, size, paths)
                console.print(
                    f"commissioned packs {made}-{size - 1} in {time.perf_counter() - started:.1f} s"
                )
                made = size
                # Packs in random order from the whole ledger: a market's phones scan any pack.
                listing.write_text(json.dumps(random.Random(size).sample(paths, len(paths))))
                with serving_ledger(home) as url:
                    _scan_load(url, listing, 1.0)  # warm: the snapshot, the page cache
                    scans = _scan_load(url, listing, seconds)
                    memory = worker_memory(url)
                if scans["errors"]:
                    console.print(f"[red]{scans['errors']:.0f} scan requests failed[/red]")
                rates[size] = scans["rps"]
                last = size == sizes[-1]
                table.add_row(
                    f"{size:,}",
                    f"{scans['rps']:.0f}",
                    f"{scans['rps'] / hello['rps']:.2f}",
                    f"{scans['p50_ms']:.1f}",
                    f"{scans['p99_ms']:.1f}",
                    f"{memory.resident:.0f} ({memory.anonymous:.0f} own)",
                )
                rows += [
                    BenchRow(
                        f"beef.scan.rps.n={size}",
                        scans["rps"],
                        "requests/s",
                        hello["rps"],
                        goal=SCAN_GOAL if last else None,
                    ),
                    BenchRow(
                        f"beef.scan.p99_ms.n={size}",
                        scans["p99_ms"],
                        "ms",
                        goal=P99_GOAL_MS if last else None,
                        goal_on="value",
                        goal_op="<=",
                        note=f"{CLIENTS} clients",
                    ),
                    BenchRow(
                        f"beef.scan.server.rss_mb.n={size}",
                        memory.resident,
                        "MB",
                        note=f"after about {scans['rps'] * (seconds + 1.0):,.0f} scans",
                    ),
                    BenchRow(f"beef.scan.server.anon_mb.n={size}", memory.anonymous, "MB"),
                ]
            rounds = 1 if quick else FLAT_ROUNDS
            rows.append(_flatness(Path(tmp), home, listing, sizes, seconds, rounds, console))
        finally:
            node.close()
    console.print(table)
    return rows


def _flatness(
    tmp: Path,
    largest_home: Path,
    largest_listing: Path,
    sizes: tuple[int, ...],
    seconds: float,
    rounds: int,
    console: Console,
) -> BenchRow:
    """The largest ledger's scans/s against a new ledger of the smallest size, served in turn
    (one of each per round, the order turning): the median of the rounds' ratios."""
    first, largest = sizes[0], sizes[-1]
    home, listing = tmp / "first", tmp / "first-paths.json"
    node, signers = init_home(Settings(home=home), demo_plan())
    paths: list[str] = []
    try:
        commission(node, signers["au-meatworks"], 0, first, paths)
    finally:
        node.close()
    listing.write_text(json.dumps(random.Random(first).sample(paths, len(paths))))
    served = {first: (home, listing), largest: (largest_home, largest_listing)}
    rates: dict[int, list[float]] = {first: [], largest: []}
    for round_ in range(rounds):
        for size in (first, largest) if round_ % 2 == 0 else (largest, first):
            with serving_ledger(served[size][0]) as url:
                _scan_load(url, served[size][1], 1.0)  # warm, as the size rows
                scans = _scan_load(url, served[size][1], seconds)
            if scans["errors"]:
                console.print(f"[red]{scans['errors']:.0f} scan requests failed[/red]")
            rates[size].append(scans["rps"])
        console.print(
            f"flatness round {round_ + 1}/{rounds}: {rates[largest][-1]:.0f} scans/s at "
            f"{largest:,} packs, {rates[first][-1]:.0f} at {first:,}"
        )
    ratios = [a / b if b else 0.0 for a, b in zip(rates[largest], rates[first], strict=True)]
    value, ratio = statistics.median(rates[largest]), statistics.median(ratios)
    return BenchRow(
        f"beef.scan.flat.n={largest}",
        value,
        "requests/s",
        value / ratio if ratio else None,  # the baseline that makes the row's ratio `ratio`
        goal=FLAT_GOAL,
        note=f"ratio: median over {_count(len(ratios), 'round')} of requests/s at {largest:,} "
        f"packs over requests/s at {first:,}, the two ledgers served in turn",
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _scan_load(url: str, paths: Path | None, seconds: float) -> dict[str, float]:
    if wrk_available():  # wrk (C) when installed: a Python client would be the bottleneck
        lines = json.loads(paths.read_text()) if paths else []
        return run_wrk(
            url, "/hello", method="GET", lines=lines, concurrency=CLIENTS, seconds=max(1.0, seconds)
        )
    requests = max(100, int(seconds * 150))
    args = [sys.executable, "-m", "apps.beef.scanload", url, "--requests", str(requests)]
    if paths:
        args += ["--paths", str(paths)]
    done = subprocess.run(args, capture_output=True, check=True, text=True)  # noqa: S603
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
