"""Charts over a parameter's values: expectation values against one parameter (lines with
error bars, one series per observable), and a heatmap over two parameters. Server-rendered
SVG like the rest (charts.py); every label escaped."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from qorch.http.dashboard.charts import legend

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 52
TICKS = 6
MAX_HEATMAP_SIDE = 64
"""Distinct values per axis a heatmap draws; a finer grid is listed, not drawn."""


@dataclass(frozen=True)
class XY:
    x: float
    y: float
    error: float = 0.0


@dataclass(frozen=True)
class Series:
    name: str
    points: list[XY]


def _num(value: float) -> str:
    return f"{value:.4g}"


def _span(low: float, high: float) -> tuple[float, float]:
    if high - low < 1e-12:
        return low - 1.0, high + 1.0
    return low, high


def ticks(low: float, high: float, count: int = TICKS) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) from `low` to `high`."""
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    return [n * step for n in range(first, math.floor(high / step + 1e-9) + 1)]


def xy_svg(series: list[Series], x_label: str, y_label: str = "expectation value") -> Markup:
    """Each series' points at their x value, joined in x order, with ±1 standard error bars;
    the y axis spans [-1, 1] at least."""
    points = [p for s in series for p in s.points]
    x_low, x_high = _span(min(p.x for p in points), max(p.x for p in points))
    y_low = min([-1.0] + [p.y - p.error for p in points])
    y_high = max([1.0] + [p.y + p.error for p in points])
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x_low) / (x_high - x_low) * inner_w

    def sy(y: float) -> float:
        return TOP + (y_high - y) / (y_high - y_low) * inner_h

    axis_y = TOP + inner_h
    parts = [
        f'<svg class="chart xy" role="img" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" data-x-low="{x_low!r}" '
        f'data-x-high="{x_high!r}" data-plot-left="{LEFT}" data-plot-width="{inner_w}">',
        f'<line class="axis" x1="{LEFT}" y1="{axis_y}" x2="{WIDTH - RIGHT}" y2="{axis_y}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{axis_y}"/>',
        f'<line class="zero" x1="{LEFT}" y1="{sy(0):.2f}" x2="{WIDTH - RIGHT}" y2="{sy(0):.2f}"/>',
    ]
    for x in ticks(x_low, x_high):
        parts.append(
            f'<text class="tick" x="{sx(x):.2f}" y="{axis_y + 16}" text-anchor="middle">'
            f"{_num(x)}</text>"
        )
    for y in ticks(y_low, y_high):
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{sy(y):.2f}" x2="{WIDTH - RIGHT}" '
            f'y2="{sy(y):.2f}"/><text class="tick" x="{LEFT - 6}" y="{sy(y) + 4:.2f}" '
            f'text-anchor="end">{_num(y)}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{LEFT + inner_w / 2}" y="{HEIGHT - 8}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
        f'<text class="axis-label" x="10" y="{TOP + inner_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 10 {TOP + inner_h / 2})">{escape(y_label)}</text>'
    )
    for s, one in enumerate(series):
        ordered = sorted(one.points, key=lambda p: p.x)
        path = " ".join(f"{sx(p.x):.2f},{sy(p.y):.2f}" for p in ordered)
        name = escape(one.name)
        parts.append(f'<g class="series series-{s}" data-series="{name}">')
        parts.append(f'<polyline class="series-{s}" points="{path}"/>')
        for p in ordered:
            cx, top, bottom = sx(p.x), sy(p.y + p.error), sy(p.y - p.error)
            parts.append(
                f'<g class="point" data-x="{p.x!r}" data-y="{p.y!r}" data-error="{p.error!r}">'
                f"<title>{name}: {_num(p.y)} ± {_num(p.error)} at {escape(x_label)} = "
                f"{_num(p.x)}</title>"
                f'<line class="error" x1="{cx:.2f}" x2="{cx:.2f}" y1="{top:.2f}" '
                f'y2="{bottom:.2f}"/>'
                f'<circle class="series-{s}" cx="{cx:.2f}" cy="{sy(p.y):.2f}" r="3.5"/></g>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    parts.append(legend([one.name for one in series]))
    return Markup("".join(parts))


def _color(value: float, scale: float) -> str:
    """Blue for negative, white at zero, red for positive (|value| / scale saturates at 1)."""
    t = max(-1.0, min(1.0, value / scale)) if scale > 0 else 0.0
    if t >= 0:
        r, g, b = 255, round(255 - 200 * t), round(255 - 210 * t)
    else:
        r, g, b = round(255 + 208 * t), round(255 + 164 * t), 255
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap_svg(
    xs: list[float],
    ys: list[float],
    cells: dict[tuple[float, float], tuple[float, float]],
    x_label: str,
    y_label: str,
) -> Markup:
    """A cell per (x, y) parameter pair, colored by its value (value, error) on a scale
    symmetric about zero; pairs not in `cells` are left empty."""
    cell_w = max(8.0, min(40.0, 560 / len(xs)))
    cell_h = max(6.0, min(28.0, 240 / len(ys)))
    width = LEFT + 24 + cell_w * len(xs) + RIGHT
    height = TOP + cell_h * len(ys) + BOTTOM + 24
    scale = max([abs(value) for value, _ in cells.values()] + [1e-12])
    label_every = max(1, round(len(xs) / 10)), max(1, round(len(ys) / 10))
    parts = [
        f'<svg class="chart heatmap" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
    ]
    left = LEFT + 24
    for row, y in enumerate(reversed(ys)):
        top = TOP + row * cell_h
        if (len(ys) - 1 - row) % label_every[1] == 0:
            parts.append(
                f'<text class="tick" x="{left - 6}" y="{top + cell_h / 2 + 4:.2f}" '
                f'text-anchor="end">{_num(y)}</text>'
            )
        for column, x in enumerate(xs):
            if (x, y) not in cells:
                continue
            value, error = cells[(x, y)]
            parts.append(
                f'<rect class="cell" data-x="{x!r}" data-y="{y!r}" data-value="{value!r}" '
                f'x="{left + column * cell_w:.2f}" y="{top:.2f}" width="{cell_w:.2f}" '
                f'height="{cell_h:.2f}" fill="{_color(value, scale)}"><title>'
                f"{escape(x_label)} = {_num(x)}, {escape(y_label)} = {_num(y)}: "
                f"{_num(value)} ± {_num(error)}</title></rect>"
            )
    axis_y = TOP + cell_h * len(ys)
    for column, x in enumerate(xs):
        if column % label_every[0] == 0:
            cx = left + column * cell_w + cell_w / 2
            parts.append(
                f'<text class="tick" x="{cx:.2f}" y="{axis_y + 14}" text-anchor="middle">'
                f"{_num(x)}</text>"
            )
    parts.append(
        f'<text class="axis-label" x="{left + cell_w * len(xs) / 2:.2f}" y="{axis_y + 32}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
        f'<text class="axis-label" x="12" y="{TOP + axis_y / 2:.2f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {TOP + axis_y / 2:.2f})">{escape(y_label)}</text>'
        "</svg>"
        f'<p class="legend scale"><svg width="96" height="12" aria-hidden="true">'
        + "".join(
            f'<rect x="{i * 12}" width="12" height="12" fill="{_color(step, scale)}"/>'
            for i, step in enumerate(-scale + i * scale / 3.5 for i in range(8))
        )
        + f"</svg> from {_num(-scale)} (blue) to {_num(scale)} (red)</p>"
    )
    return Markup("".join(parts))
