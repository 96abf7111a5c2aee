"""One row of a benchmark report: a figure beside the baseline measured in the same run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class BenchRow:
    """`name` is stable across runs so that reports can be compared (`beef.scan.rps`);
    `ratio` is value / baseline, and `met` says whether it reached `goal` (None: no goal)."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    goal: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        return None if self.goal is None or ratio is None else ratio >= self.goal


def print_rows(console: Console, title: str, rows: Sequence[BenchRow]) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("figure", "value", "unit", "baseline", "ratio", "goal"):
        table.add_column(column, justify="left" if column in ("figure", "unit") else "right")
    for row in rows:
        table.add_row(
            row.name,
            f"{row.value:,.1f}",
            row.unit,
            "" if row.baseline is None else f"{row.baseline:,.1f}",
            "" if row.ratio is None else f"{row.ratio:.2f}",
            "" if row.goal is None else f">= {row.goal:g}" + (" met" if row.met else " NOT met"),
        )
    console.print(table)
