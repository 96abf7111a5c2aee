"""The benchmark report: rows judged honestly against their goals, the JSON document's schema,
and docs/benchmarks.md's generated block replaced without touching the analysis around it."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.bench.report import (
    GENERATED_BEGIN,
    GENERATED_END,
    BenchRow,
    make_report,
    render_markdown,
    update_docs,
    write_json,
)

KEYS = {"name", "value", "unit", "baseline", "ratio", "goal", "met", "note"}


def test_a_row_without_a_goal_is_never_called_met() -> None:
    row = BenchRow("x.rps", 50.0, "requests/s", baseline=100.0)
    assert row.ratio == 0.5
    assert row.met is None
    assert row.goal_text is None


def test_a_goal_without_a_baseline_to_judge_a_ratio_by_is_not_judged() -> None:
    assert BenchRow("x", 5.0, "µs", goal=1.3, goal_op="<=").met is None
    assert BenchRow("x", 5.0, "µs", baseline=0.0, goal=1.3).met is None


@pytest.mark.parametrize(
    ("row", "met"),
    [
        (BenchRow("a", 150.0, "/s", 100.0, goal=1.5), True),
        (BenchRow("a", 149.0, "/s", 100.0, goal=1.5), False),
        (BenchRow("p", 130.0, "µs", 100.0, goal=1.3, goal_op="<="), True),
        (BenchRow("p", 131.0, "µs", 100.0, goal=1.3, goal_op="<="), False),
        (BenchRow("m", 199.0, "MB", 150.0, goal=200, goal_on="value", goal_op="<="), True),
        (BenchRow("m", 201.0, "MB", None, goal=200, goal_on="value", goal_op="<="), False),
        (BenchRow("n", math.nan, "MB", None, goal=200, goal_on="value", goal_op="<="), None),
    ],
)
def test_goals_are_judged_on_the_ratio_or_the_value_either_way(row: BenchRow, met: bool) -> None:
    assert row.met is met


def test_the_report_has_the_machine_the_date_and_every_row_in_the_documented_shape(
    tmp_path: Path,
) -> None:
    rows = [
        BenchRow("scale.audit.entries_per_s", 14000.0, "entries/s", 10000.0, goal=1.5),
        BenchRow("scale.proof.median_us.n=1000", 200.0, "µs"),
        BenchRow("scale.server.rss_mb.n=1000000", math.inf, "MB", goal=200, goal_on="value"),
    ]
    report = make_report(rows, date=datetime(2026, 12, 4, 5, 6, 7, tzinfo=UTC))
    path = tmp_path / "out" / "bench.json"
    write_json(path, report)
    loaded = json.loads(path.read_text())  # strict JSON: no NaN or Infinity in it
    assert set(loaded) == {"machine", "date", "rows"}
    assert loaded["date"] == "2026-12-04T05:06:07Z"
    assert {"cpu", "cores", "python", "sqlite", "cryptography"} <= set(loaded["machine"])
    assert [set(r) for r in loaded["rows"]] == [KEYS] * 3
    audit, proof, rss = loaded["rows"]
    assert audit == {
        "name": "scale.audit.entries_per_s",
        "value": 14000.0,
        "unit": "entries/s",
        "baseline": 10000.0,
        "ratio": 1.4,
        "goal": "ratio >= 1.5",
        "met": False,
        "note": None,
    }
    assert (proof["baseline"], proof["ratio"], proof["goal"], proof["met"]) == (None,) * 4
    assert (rss["value"], rss["goal"], rss["met"]) == (None, "value >= 200", None)


def test_the_docs_keep_their_analysis_and_get_a_new_generated_block(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text(
        f"# Benchmarks\n\nIntro.\n\n{GENERATED_BEGIN}\nold figures\n{GENERATED_END}\n\n"
        "## Analysis\n\nHand-written.\n"
    )
    report = make_report([BenchRow("core.sig.raw_verify_per_s", 9000.0, "verifies/s")])
    update_docs(tmp_path, report)
    text = page.read_text()
    assert "old figures" not in text
    assert text.startswith("# Benchmarks\n\nIntro.\n\n" + GENERATED_BEGIN)
    assert text.endswith(f"{GENERATED_END}\n\n## Analysis\n\nHand-written.\n")
    assert "| `core.sig.raw_verify_per_s` | 9,000.0 | verifies/s |" in text
    assert report["date"] in text
    assert json.loads((tmp_path / "benchmarks.json").read_text()) == report
    update_docs(tmp_path, report)  # a second run replaces, never duplicates
    assert page.read_text() == text
    assert render_markdown(report) in text


def test_pymerkle_is_imported_by_no_module_of_the_package() -> None:
    """pymerkle is the `bench` extra: importing the CLI and the scale benchmark must not need it."""
    import subprocess
    import sys

    code = (
        "import sys, ledger.cli, ledger.bench.scale, ledger.bench.report; "
        "sys.exit('pymerkle' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
