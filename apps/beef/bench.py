"""`sealchain bench beef`: scan-page JSON requests/s and p99 at 10^5 packs, against the bare
hello-world baseline of the same run (load generator in its own process)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from apps.beef import builders
from apps.beef.demo import BENCH_GTIN, lot_data
from apps.beef.identifiers import pack_id
from ledger.core.envelope import sign_envelope
from ledger.plugin import (
    BenchRow,
    Settings,
    demo_plan,
    init_home,
    run_wrk,
    serving_hello,
    serving_ledger,
    wrk_available,
)

SITE = builders.place("bench-meatworks", "Bench meatworks", "Rockhampton", "AU")
PER_LOT = 500


def populate(home: Path, packs: int, console: Console) -> list[str]:
    """Commission `packs` packs in lots of PER_LOT, straight through the sequencer."""
    node, signers = init_home(Settings(home=home), demo_plan())
    assert node.sequencer is not None
    signer = signers["au-meatworks"]
    paths: list[str] = []
    started = time.perf_counter()
    for n in range(0, packs, PER_LOT):
        lot = f"B{n // PER_LOT:05d}"
        uris = [pack_id(BENCH_GTIN, lot, f"{i:05d}").uri() for i in range(min(PER_LOT, packs - n))]
        record_type, body = builders.commission(
            uris, lot_data(lot, gtin=BENCH_GTIN, cattle=1), SITE, builders.now()
        )
        env = sign_envelope(signer, type=record_type, org="au-meatworks", body=body)
        node.sequencer.submit([env.raw])
        paths.extend(u[len("https://id.gs1.org") :] for u in uris[:: max(1, PER_LOT // 20)])
    node.close()
    console.print(f"commissioned {packs} packs in {time.perf_counter() - started:.1f} s")
    return paths


def bench_beef(*, quick: bool, console: Console) -> list[BenchRow]:
    """Scan-page JSON requests/s and p99 at 10^5 packs (10^4 with --quick) vs a hello-world
    baseline."""
    packs, requests = (10_000, 400) if quick else (100_000, 2000)
    with tempfile.TemporaryDirectory(prefix="sealchain-bench-beef-") as tmp:
        home = Path(tmp) / "home"
        paths = populate(home, packs, console)
        (Path(tmp) / "paths.json").write_text(json.dumps(paths))
        with serving_hello() as url:
            hello = _scan_load(url, None, requests)
        with serving_ledger(home) as url:
            _scan_load(url, Path(tmp) / "paths.json", 100)
            scans = _scan_load(url, Path(tmp) / "paths.json", requests)
    table = Table(title=f"sealchain bench beef ({packs} packs)")
    table.add_column("measure")
    table.add_column("requests/s", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_row(
        "hello-world baseline",
        f"{hello['rps']:.0f}",
        f"{hello['p50_ms']:.1f}",
        f"{hello['p99_ms']:.1f}",
    )
    table.add_row(
        "scan page JSON", f"{scans['rps']:.0f}", f"{scans['p50_ms']:.1f}", f"{scans['p99_ms']:.1f}"
    )
    console.print(table)
    if scans["errors"]:
        console.print(f"[red]{scans['errors']:.0f} scan requests failed[/red]")
    return [
        BenchRow(f"beef.scan.rps.n={packs}", scans["rps"], "requests/s", hello["rps"]),
        BenchRow(f"beef.scan.p99_ms.n={packs}", scans["p99_ms"], "ms"),
    ]


def _scan_load(url: str, paths: Path | None, requests: int) -> dict[str, float]:
    if wrk_available():  # wrk (C) when installed: a Python client would be the bottleneck
        lines = json.loads(paths.read_text()) if paths else []
        seconds = max(2.0, requests / 400)
        return run_wrk(url, "/hello", method="GET", lines=lines, concurrency=32, seconds=seconds)
    args = [sys.executable, "-m", "apps.beef.scanload", url, "--requests", str(requests)]
    if paths:
        args += ["--paths", str(paths)]
    done = subprocess.run(args, capture_output=True, check=True, text=True)  # noqa: S603
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
