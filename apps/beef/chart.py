"""The cold-chain chart: an inline SVG drawn on the server from numbers only (no script)."""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT, PAD = 640, 220, 36
LOW, HIGH, ALARM = -2.5, 1.0, 4.0


def temperature_svg(readings: list[dict[str, Any]]) -> str:
    values = [float(r["value"]) for r in readings]
    if not values:
        return ""
    top = max(max(values), ALARM + 1.0)
    bottom = min(min(values), LOW - 1.0)

    def y(v: float) -> float:
        return PAD + (top - v) / (top - bottom) * (HEIGHT - 2 * PAD)

    def x(i: int) -> float:
        span = max(len(values) - 1, 1)
        return PAD + i / span * (WIDTH - 2 * PAD)

    band = (
        f'<rect x="{PAD}" y="{y(HIGH):.1f}" width="{WIDTH - 2 * PAD}" '
        f'height="{y(LOW) - y(HIGH):.1f}" fill="#d1fadf"/>'
    )
    alarm = (
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(ALARM):.1f}" y2="{y(ALARM):.1f}" '
        'stroke="#b42318" stroke-dasharray="4 4"/>'
    )
    path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" '
        f'fill="{ {"ok": "#12b76a", "excursion": "#dc6803", "alarm": "#b42318"}[r["status"]] }">'
        f"<title>{escape(str(r['time']))}: {v:.1f} °C</title></circle>"
        for i, (v, r) in enumerate(zip(values, readings, strict=True))
    )
    labels = (
        f'<text x="4" y="{y(HIGH) + 4:.1f}" font-size="11">+1.0</text>'
        f'<text x="4" y="{y(LOW) + 4:.1f}" font-size="11">-2.5</text>'
        f'<text x="4" y="{y(ALARM) + 4:.1f}" font-size="11" fill="#b42318">+4.0</text>'
    )
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Temperature readings in degrees Celsius">{band}{alarm}{labels}'
        f'<polyline points="{path}" fill="none" stroke="#344054" stroke-width="1.5"/>{dots}</svg>'
    )
