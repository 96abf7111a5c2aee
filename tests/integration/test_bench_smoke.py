"""`sealchain bench all --quick` runs every benchmark end to end and writes every row, each a
finite number (a smoke test of the benchmark code, so it never rots: no time is asserted).

PostgreSQL rows are expected when the tests have a server (SEALCHAIN_TEST_PG_URL), as in CI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL

REPO = Path(__file__).resolve().parents[2]

CORE = [
    "core.sig.raw_verify_per_s",
    "core.sig.envelope_parse_per_s",
    "core.sig.envelope_check_per_s",
    "core.append.executemany_per_s",
    "core.append.sequencer_per_s",
    "core.append.precheck_us_per_entry",
    "core.append.commit_us_per_entry",
    *(
        f"core.proof.{kind}.n={n}"
        for kind in ("median_us", "p99_us", "nodes_read")
        for n in (1000, 10000, 100000)
    ),
]
API = [
    "api.hello.rps.workers=1",
    "api.submit.rps.workers=1",
    "api.submit.p50_ms.workers=1",
    "api.submit.p99_ms.workers=1",
    "api.hello.rps.workers=2",
    "api.submit.rps.workers=2",
    "api.submit.two_workers_vs_one",
    "api.submit.capacity_rps.workers=1",
    "api.submit.capacity_two_workers_vs_one",
    "api.submit.p99_ms.workers=2",
    "api.raw_verify_per_s",
    "api.batch.entries_per_s.workers=2",
    "api.batch.answered_entries_per_s.workers=2",
]
CONSORTIUM = [
    "consortium.ingest.entries_per_s.witnesses=0",
    "consortium.ingest.entries_per_s.witnesses=3",
    "consortium.ingest.final_lag_s.witnesses=3",
    "consortium.final.median_ms",
    "consortium.final.p99_ms",
    "consortium.hello.rps",
    "consortium.tile.rps",
]


def _scale(prefix: str, sizes: tuple[int, ...]) -> list[str]:
    large = sizes[-1]
    return [
        f"{prefix}.ingest.entries_per_s.n={large}",
        *(
            [f"{prefix}.server.build_rss_mb.n={large}", f"{prefix}.server.build_anon_mb.n={large}"]
            if prefix == "scale"
            else []
        ),
        *(f"{prefix}.proof.{kind}.n={n}" for n in sizes for kind in ("median_us", "p99_us")),
        *(f"{prefix}.server.{kind}_mb.n={n}" for kind in ("rss", "anon") for n in sizes),
        f"{prefix}.db.bytes_per_entry.n={large}",
        f"{prefix}.audit.entries_per_s" + ("" if prefix == "scale" else f".n={large}"),
        *(f"{prefix}.audit.peak_{kind}_mb.n={n}" for kind in ("pss", "anon") for n in sizes),
        f"{prefix}.reindex.entries_per_s.n={large}",
        *(f"scale.proof.pymerkle_ratio.n={n}" for n in (1000, 10000) if prefix == "scale"),
    ]


SCALE = _scale("scale", (100, 1000, 10000))
SCALE_PG = _scale("scale.pg", (100, 1000))
BEEF = [
    *(
        f"beef.scan.{figure}.n={n}"
        for n in (100, 1000, 10000)
        for figure in ("rps", "p99_ms", "server.rss_mb", "server.anon_mb")
    ),
    "beef.scan.flat.n=10000",
]
EVIDENCE = [
    "evidence.deposits_per_s.n=1000",
    "evidence.tsa.tokens_per_s",
    "evidence.similarity.median_ms.n=10000",
    "evidence.similarity.median_ms.n=100000",
]
CERTS = [
    "certs.verify_per_s",
    "certs.bulk_csv_rows_per_s.n=500",
    "certs.status_rps.n=500",
    "certs.status_vs_checkpoint_rps.n=500",
]


@pytest.mark.slow
def test_bench_all_quick_writes_every_row_finite(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    docs = REPO / "docs" / "benchmarks.json"
    docs_before = docs.read_bytes() if docs.exists() else None
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALCHAIN_")}
    if PG_URL:
        env["SEALCHAIN_BENCH_PG_URL"] = PG_URL
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "bench", "all", "--quick", "--json", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    names = [row["name"] for row in report["rows"]]
    pg = SCALE_PG if PG_URL else []
    assert names == CORE + API + CONSORTIUM + SCALE + pg + BEEF + CERTS + EVIDENCE
    for row in report["rows"]:
        assert isinstance(row["value"], float) and math.isfinite(row["value"]), row
        assert row["value"] >= 0, row
        if row["baseline"] is not None:
            assert row["ratio"] is not None and math.isfinite(row["ratio"]), row
        assert row["met"] in (True, False, None), row
        if row["goal"] is None:
            assert row["met"] is None, row
    # A quick run never rewrites the docs.
    assert (docs.read_bytes() if docs.exists() else None) == docs_before
    # Every submit, batch and scan was answered with success: the figures count real work.
    assert "requests failed" not in done.stdout


def test_bench_api_alternates_each_measure_with_its_baseline() -> None:
    from ledger.bench.api import _interleaved, _median_ratio

    calls: list[str] = []
    baselines, results = _interleaved(
        lambda: calls.append("baseline") or 100.0 + len(calls),
        lambda round_number: calls.append(f"measure {round_number}") or {"rps": 50.0},
        3,
    )
    assert calls == ["baseline", "measure 0", "baseline", "measure 1", "baseline", "measure 2"]
    assert baselines == [101.0, 103.0, 105.0]
    assert results == [{"rps": 50.0}] * 3
    # The median of per-round ratios, not a ratio of medians: a slow round's baseline pairs
    # with that round's measure.
    assert _median_ratio([10.0, 30.0, 50.0], [100.0, 100.0, 50.0]) == 0.3


def test_every_bench_command_is_registered() -> None:
    from typer.main import get_command

    from ledger.cli import bench_app

    commands = set(get_command(bench_app).commands)  # type: ignore[attr-defined]
    assert {"core", "api", "consortium", "scale", "all", "beef", "evidence", "certs"} <= commands
