"""Server-rendered SVG charts: no JavaScript library, nothing fetched from the internet.

Every label is escaped here; the results hold only numbers and bitstrings, but a chart never
trusts what it draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

MAX_BARS = 64
HEIGHT = 220
TOP = 16
AXIS_Y = HEIGHT - 60
LEFT = 48


@dataclass(frozen=True)
class Point:
    label: str
    value: float
    error: float = 0.0


def _num(value: float) -> str:
    return f"{value:.4g}"


def histogram_svg(distribution: dict[str, float], errors: dict[str, float] | None = None) -> Markup:
    """One bar per outcome (the most likely MAX_BARS when there are more), labelled with it."""
    shown = sorted(distribution.items(), key=lambda kv: -kv[1])[:MAX_BARS]
    shown.sort(key=lambda kv: kv[0])
    top = max([p + (errors or {}).get(k, 0.0) for k, p in shown] + [1e-12])
    bar, gap = 28, 8
    width = LEFT + len(shown) * (bar + gap) + 16
    scale = (AXIS_Y - TOP) / top
    parts = [
        f'<svg class="chart histogram" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}">',
        f'<line class="axis" x1="{LEFT}" y1="{AXIS_Y}" x2="{width - 8}" y2="{AXIS_Y}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{_num(top)}</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{AXIS_Y}" text-anchor="end">0</text>',
    ]
    for i, (outcome, p) in enumerate(shown):
        x = LEFT + gap + i * (bar + gap)
        h = max(p * scale, 0.0)
        label = escape(outcome)
        parts.append(
            f'<g class="bar" data-outcome="{label}" data-value="{p!r}">'
            f"<title>{label}: {_num(p)}</title>"
            f'<rect x="{x}" y="{AXIS_Y - h:.2f}" width="{bar}" height="{h:.2f}"/>'
        )
        err = (errors or {}).get(outcome, 0.0)
        if err > 0:
            cx = x + bar / 2
            parts.append(
                f'<line class="error" x1="{cx}" x2="{cx}" y1="{AXIS_Y - (p + err) * scale:.2f}"'
                f' y2="{AXIS_Y - max(p - err, 0) * scale:.2f}"/>'
            )
        parts.append(
            f'<text class="bar-label" x="{x + bar / 2}" y="{AXIS_Y + 8}" '
            f'transform="rotate(60 {x + bar / 2} {AXIS_Y + 8})">{label}</text></g>'
        )
    parts.append("</svg>")
    if len(distribution) > MAX_BARS:
        parts.append(
            f'<p class="note">The {MAX_BARS} most likely of {len(distribution)} outcomes.</p>'
        )
    return Markup("".join(parts))


def expectation_svg(points: list[Point]) -> Markup:
    """A point per value with a ±1 standard error bar; the y axis always spans [-1, 1] at least."""
    low = min([-1.0] + [p.value - p.error for p in points])
    high = max([1.0] + [p.value + p.error for p in points])
    step = 44
    width = LEFT + max(len(points), 1) * step + 16
    scale = (AXIS_Y - TOP) / (high - low)

    def y(value: float) -> float:
        return AXIS_Y - (value - low) * scale

    parts = [
        f'<svg class="chart expectation" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}">',
        f'<line class="axis" x1="{LEFT}" y1="{AXIS_Y}" x2="{width - 8}" y2="{AXIS_Y}"/>',
        f'<line class="zero" x1="{LEFT}" y1="{y(0):.2f}" x2="{width - 8}" y2="{y(0):.2f}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{y(high) + 4:.2f}" text-anchor="end">'
        f"{_num(high)}</text>",
        f'<text class="tick" x="{LEFT - 6}" y="{y(0) + 4:.2f}" text-anchor="end">0</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{y(low):.2f}" text-anchor="end">{_num(low)}</text>',
    ]
    for i, point in enumerate(points):
        cx = LEFT + step / 2 + i * step
        top, bottom = y(point.value + point.error), y(point.value - point.error)
        label = escape(point.label)
        parts.append(
            f'<g class="point" data-label="{label}" data-value="{point.value!r}"'
            f' data-error="{point.error!r}"><title>{label}: {_num(point.value)} ± '
            f"{_num(point.error)}</title>"
            f'<line class="error" x1="{cx}" x2="{cx}" y1="{top:.2f}" y2="{bottom:.2f}"/>'
            f'<line class="error" x1="{cx - 5}" x2="{cx + 5}" y1="{top:.2f}" y2="{top:.2f}"/>'
            f'<line class="error" x1="{cx - 5}" x2="{cx + 5}" y1="{bottom:.2f}" y2="{bottom:.2f}"/>'
            f'<circle cx="{cx}" cy="{y(point.value):.2f}" r="4"/>'
            f'<text class="bar-label" x="{cx}" y="{AXIS_Y + 8}" '
            f'transform="rotate(60 {cx} {AXIS_Y + 8})">{label}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
