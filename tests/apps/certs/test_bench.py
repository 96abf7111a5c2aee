"""`sealchain bench certs --quick` runs end to end and returns every figure (no timing asserted)."""

from __future__ import annotations

import io
import math

import pytest
from rich.console import Console

from apps.certs.bench import bench_certs

pytestmark = pytest.mark.slow


def test_bench_certs_quick_returns_every_figure() -> None:
    rows = bench_certs(quick=True, console=Console(file=io.StringIO(), width=120))
    assert [r.name for r in rows] == [
        "certs.verify_per_s",
        "certs.bulk_csv_rows_per_s.n=500",
        "certs.status_rps.n=500",
        "certs.status_vs_checkpoint_rps.n=500",
    ]
    for row in rows:
        assert math.isfinite(row.value) and row.value > 0, row
