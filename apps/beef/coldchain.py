"""The chilled range a pack of beef must stay in, and how a reading is judged against it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ColdChain:
    """The chilled range for sea shipping (-1.5 C target): outside it is an excursion, above
    `alarm_above` an alarm. The scan page's script judges readings with the same numbers
    (they are handed to it with the page: views.scan_subject)."""

    low: float = -2.5
    high: float = 1.0
    alarm_above: float = 4.0

    def status(self, value: float) -> str:
        if value > self.alarm_above:
            return "alarm"
        if value < self.low or value > self.high:
            return "excursion"
        return "ok"
