"""`sealchain bench core --quick` runs end to end and returns every figure (no timing asserted)."""

from __future__ import annotations

import io
import math

import pytest
from rich.console import Console

from ledger.bench.core import run

EXPECTED = {
    "raw_verify_per_s",
    "envelope_parse_per_s",
    "envelope_check_per_s",
    "envelope_ratio",
    "entry_bytes",
    "message_bytes",
    "sequencer_per_s",
    "executemany_per_s",
    "sequencer_ratio",
    "precheck_us_per_entry",
    "commit_us_per_entry",
    "precheck_share",
    "commit_share",
    "proof_ratio",
    "seconds",
    *(
        f"proof_{kind}_{size}"
        for kind in ("median_us", "p99_us", "nodes")
        for size in (10**3, 10**4, 10**5)
    ),
}


@pytest.mark.slow
def test_bench_core_quick_returns_every_figure() -> None:
    buffer = io.StringIO()
    figures = run(quick=True, out=Console(file=buffer, width=120))
    assert set(figures) == EXPECTED
    for name, value in figures.items():
        assert math.isfinite(value), name
        assert value > 0, name
    printed = buffer.getvalue()
    for heading in ("1. signatures", "2. appends into SQLite", "3. inclusion proof"):
        assert heading in printed


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


@pytest.mark.slow
def test_bench_api_quick_runs_every_measure_without_errors() -> None:
    from ledger.bench.api import run as run_api

    buffer = io.StringIO()
    figures = run_api(quick=True, out=Console(file=buffer, width=120))
    for name in (
        "hello_rps",
        "submit_rps",
        "submit_vs_hello",
        "hello2_rps",
        "submit2_rps",
        "raw_verify_per_s",
        "batch_entries_per_s",
        "batch_vs_verify",
        "batch_answered_per_s",
    ):
        assert math.isfinite(figures[name]) and figures[name] > 0, name
    # Every submit and every batch was answered with success: the figures count real entries.
    assert figures["submit_errors"] == 0
    assert figures["batch_errors"] == 0
    assert "per round, (b):" in buffer.getvalue()


@pytest.mark.slow
def test_bench_consortium_quick_returns_every_row() -> None:
    from ledger.bench.consortium import run as run_consortium

    rows = {
        row.name: row for row in run_consortium(quick=True, console=Console(file=io.StringIO()))
    }
    assert set(rows) == {
        "consortium.ingest.entries_per_s.witnesses=0",
        "consortium.ingest.entries_per_s.witnesses=3",
        "consortium.ingest.final_lag_s.witnesses=3",
        "consortium.final.median_ms",
        "consortium.final.p99_ms",
        "consortium.hello.rps",
        "consortium.tile.rps",
    }
    assert all(math.isfinite(row.value) and row.value > 0 for row in rows.values())
    witnessed = rows["consortium.ingest.entries_per_s.witnesses=3"]
    assert witnessed.baseline == rows["consortium.ingest.entries_per_s.witnesses=0"].value
    assert witnessed.met is not None  # the goal is reported, met or not
