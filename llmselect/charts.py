"""Tiny deterministic inline-SVG charts (grouped horizontal bars, scatter) for static reports.

No JavaScript and no external assets: the same input always gives the same bytes, so reports
can be compared in tests and opened offline. Coordinates are rounded to 0.1 px.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Colour-blind-safe palette (Okabe-Ito), cycled per series.
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
)  # fmt: skip
FONT = "font-family:sans-serif;font-size:11px"


def _n(x: float) -> str:
    """A coordinate with at most one decimal, no trailing zeros."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def fmt_value(value: float) -> str:
    """A number as shown on charts and in tables: 4 significant digits."""
    if value == 0:
        return "0"
    if abs(value) >= 1e9 or abs(value) < 1e-3:
        return f"{value:.3e}"
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1-2-5 steps)."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(low / step) * step
    ticks = []
    tick = start
    while tick < high + step * 0.999:
        ticks.append(round(tick, 10))
        tick += step
    return ticks


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    parts = []
    for i, name in enumerate(names):
        lx = x + i * 150
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{_n(lx)}" y="{_n(y - 9)}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{_n(lx + 14)}" y="{_n(y)}" style="{FONT}">{escape(name)}</text>')
    return parts


def _open(chart_id: str, title: str, width: float, height: float) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(chart_id)}" '
        f'width="{_n(width)}" height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{_n(width)}" height="{_n(height)}" fill="#ffffff"/>',
        f'<text x="10" y="18" style="{FONT};font-size:13px;font-weight:bold">'
        f"{escape(title)}</text>",
    ]


@dataclass(frozen=True)
class BarGroup:
    """One category (a row of bars): label and one value per series (None = not measured)."""

    label: str
    values: tuple[float | None, ...]


def bar_chart(
    chart_id: str,
    title: str,
    groups: Sequence[BarGroup],
    series: Sequence[str],
    axis_label: str,
    *,
    width: int = 760,
) -> str:
    """Grouped horizontal bars; the axis label carries the unit, e.g. ``tokens/char (tok/char)``."""
    bar_h, gap, label_w, top = 12.0, 8.0, 170.0, 48.0
    rows = len(groups) * (bar_h * max(len(series), 1) + gap)
    height = top + rows + 46
    plot_w = width - label_w - 70
    finite = [v for g in groups for v in g.values if v is not None and math.isfinite(v)]
    high = max([0.0, *finite]) or 1.0
    low = min([0.0, *finite])
    ticks = nice_ticks(low, high)
    lo, hi = ticks[0], ticks[-1]

    def sx(v: float) -> float:
        return label_w + (v - lo) / (hi - lo) * plot_w

    parts = _open(chart_id, title, width, height)
    parts += _legend(series, label_w, 36) if len(series) > 1 else []
    axis_y = top + rows
    for t in ticks:
        x = sx(t)
        parts.append(
            f'<line x1="{_n(x)}" y1="{_n(top - 4)}" x2="{_n(x)}" y2="{_n(axis_y)}" '
            'stroke="#dddddd"/>'
        )
        parts.append(
            f'<text x="{_n(x)}" y="{_n(axis_y + 14)}" text-anchor="middle" style="{FONT}">'
            f"{fmt_value(t)}</text>"
        )
    y = top
    for group in groups:
        block = bar_h * max(len(series), 1)
        parts.append(
            f'<text x="{_n(label_w - 6)}" y="{_n(y + block / 2 + 4)}" text-anchor="end" '
            f'style="{FONT}">{escape(group.label)}</text>'
        )
        for i, value in enumerate(group.values):
            by = y + i * bar_h
            if value is None or not math.isfinite(value):
                parts.append(
                    f'<text x="{_n(sx(0) + 3)}" y="{_n(by + bar_h - 2)}" '
                    f'style="{FONT};fill:#888888">n/a</text>'
                )
                continue
            x0, x1 = sorted((sx(0), sx(value)))
            colour = PALETTE[i % len(PALETTE)]
            parts.append(
                f'<rect class="bar" x="{_n(x0)}" y="{_n(by + 1)}" width="{_n(max(x1 - x0, 0.5))}" '
                f'height="{_n(bar_h - 2)}" fill="{colour}"><title>{escape(group.label)} '
                f"{escape(series[i] if i < len(series) else '')}: {fmt_value(value)}</title></rect>"
            )
            parts.append(
                f'<text x="{_n(x1 + 3)}" y="{_n(by + bar_h - 2)}" style="{FONT}">'
                f"{fmt_value(value)}</text>"
            )
        y += block + gap
    parts.append(
        f'<line x1="{_n(label_w)}" y1="{_n(axis_y)}" x2="{_n(label_w + plot_w)}" '
        f'y2="{_n(axis_y)}" stroke="#333333"/>'
    )
    parts.append(
        f'<text x="{_n(label_w + plot_w / 2)}" y="{_n(axis_y + 32)}" text-anchor="middle" '
        f'style="{FONT}">{escape(axis_label)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _decades(values: Sequence[float]) -> list[float]:
    """Powers of ten covering the (positive) values."""
    lo = math.floor(math.log10(min(values)))
    hi = math.ceil(math.log10(max(values)))
    return [10.0**e for e in range(lo, max(hi, lo + 1) + 1)]


@dataclass(frozen=True)
class Point:
    """One scatter point."""

    x: float
    y: float
    series: str
    label: str = ""


def scatter_chart(
    chart_id: str,
    title: str,
    points: Sequence[Point],
    x_label: str,
    y_label: str,
    *,
    width: int = 760,
    height: int = 420,
    log_x: bool = False,
    log_y: bool = False,
) -> str:
    """Scatter plot, one colour per series, each point labelled; axis labels carry units.

    ``log_x`` / ``log_y`` put that axis on a log10 scale (decade ticks); points with a
    non-positive value on a log axis are left out.
    """
    left, right, top, bottom = 70.0, 20.0, 48.0, 50.0
    plot_w, plot_h = width - left - right, height - top - bottom
    points = [p for p in points if (p.x > 0 or not log_x) and (p.y > 0 or not log_y)]
    series = sorted({p.series for p in points})
    xs = [p.x for p in points] or [1.0, 10.0]
    ys = [p.y for p in points] or [1.0, 10.0]
    xt = _decades(xs) if log_x else nice_ticks(min(0.0, *xs), max(xs))
    yt = _decades(ys) if log_y else nice_ticks(min(0.0, *ys), max(ys))

    def frac(v: float, ticks: list[float], log: bool) -> float:
        if log:
            lo, hi = math.log10(ticks[0]), math.log10(ticks[-1])
            return (math.log10(v) - lo) / (hi - lo)
        return (v - ticks[0]) / (ticks[-1] - ticks[0])

    def sx(v: float) -> float:
        return left + frac(v, xt, log_x) * plot_w

    def sy(v: float) -> float:
        return top + plot_h - frac(v, yt, log_y) * plot_h

    parts = _open(chart_id, title, width, height)
    parts += _legend(series, left, 36)
    for t in xt:
        parts.append(
            f'<line x1="{_n(sx(t))}" y1="{_n(top)}" x2="{_n(sx(t))}" y2="{_n(top + plot_h)}" '
            'stroke="#eeeeee"/>'
        )
        parts.append(
            f'<text x="{_n(sx(t))}" y="{_n(top + plot_h + 14)}" text-anchor="middle" '
            f'style="{FONT}">{fmt_value(t)}</text>'
        )
    for t in yt:
        parts.append(
            f'<line x1="{_n(left)}" y1="{_n(sy(t))}" x2="{_n(left + plot_w)}" y2="{_n(sy(t))}" '
            'stroke="#eeeeee"/>'
        )
        parts.append(
            f'<text x="{_n(left - 4)}" y="{_n(sy(t) + 4)}" text-anchor="end" style="{FONT}">'
            f"{fmt_value(t)}</text>"
        )
    parts.append(
        f'<rect x="{_n(left)}" y="{_n(top)}" width="{_n(plot_w)}" height="{_n(plot_h)}" '
        'fill="none" stroke="#333333"/>'
    )
    ordered = sorted(points, key=lambda p: (p.series, p.x, p.y, p.label))
    for p in ordered:
        colour = PALETTE[series.index(p.series) % len(PALETTE)]
        tip = f"{p.label} ({p.series}): {fmt_value(p.x)}, {fmt_value(p.y)}"
        parts.append(
            f'<circle class="point" cx="{_n(sx(p.x))}" cy="{_n(sy(p.y))}" r="3.5" '
            f'fill="{colour}"><title>{escape(tip)}</title></circle>'
        )
    parts.append(
        f'<text x="{_n(left + plot_w / 2)}" y="{_n(height - 12)}" text-anchor="middle" '
        f'style="{FONT}">{escape(x_label)}</text>'
    )
    cy = top + plot_h / 2
    parts.append(
        f'<text x="14" y="{_n(cy)}" text-anchor="middle" transform="rotate(-90 14 {_n(cy)})" '
        f'style="{FONT}">{escape(y_label)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)
