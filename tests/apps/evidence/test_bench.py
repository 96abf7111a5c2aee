"""`sealchain bench evidence --quick` runs end to end and returns every figure with its baseline
(a smoke test of the benchmark code: no timing is asserted)."""

from __future__ import annotations

import io
import math

import pytest
from rich.console import Console

from apps.evidence.bench import bench_evidence

pytestmark = pytest.mark.slow


def test_bench_evidence_quick_returns_every_figure() -> None:
    rows = bench_evidence(quick=True, console=Console(file=io.StringIO(), width=120))
    assert [r.name for r in rows] == [
        "evidence.deposits_per_s.n=1000",
        "evidence.tsa.tokens_per_s",
        "evidence.similarity.median_ms.n=10000",
        "evidence.similarity.median_ms.n=100000",
    ]
    for row in rows:
        assert math.isfinite(row.value) and row.value > 0, row
        assert row.baseline is not None and row.baseline > 0, row
