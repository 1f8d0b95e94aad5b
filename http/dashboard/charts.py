"""Server-rendered SVG charts: no JavaScript library, nothing fetched from the internet.

Every label is escaped here; the results hold only numbers and bitstrings, but a chart never
trusts what it draws. Colors come from CSS classes (`series-N`): the page's
Content-Security-Policy allows no inline styles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

MAX_BARS = 64
DEFAULT_TOP = 32
"""Outcomes a histogram shows before it groups the rest into one "other" bar."""
TOP_CHOICES = (8, 16, 32, 64, 128)
HEIGHT = 220
TOP = 16
AXIS_Y = HEIGHT - 60
LEFT = 48
OTHER = "other"


@dataclass(frozen=True)
class Point:
    label: str
    value: float
    error: float = 0.0
    series: int = 0


def _num(value: float) -> str:
    return f"{value:.4g}"


def top_outcomes(
    distributions: list[dict[str, float]], top: int
) -> tuple[list[str], list[float] | None]:
    """The `top` outcomes most likely in any of `distributions`, in bitstring order, and each
    distribution's remaining probability (its "other" bar), or None when nothing is left out."""
    best: dict[str, float] = {}
    for distribution in distributions:
        for outcome, p in distribution.items():
            best[outcome] = max(best.get(outcome, p), p)
    if len(best) <= top:
        return sorted(best), None
    shown = sorted(sorted(best, key=lambda outcome: -best[outcome])[:top])
    kept = set(shown)
    rest = [
        sum(p for outcome, p in distribution.items() if outcome not in kept)
        for distribution in distributions
    ]
    return shown, rest


def _frame(kind: str, width: float, top_value: float) -> list[str]:
    return [
        f'<svg class="chart {kind}" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}">',
        f'<line class="axis" x1="{LEFT}" y1="{AXIS_Y}" x2="{width - 8}" y2="{AXIS_Y}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">'
        f"{_num(top_value)}</text>",
        f'<text class="tick" x="{LEFT - 6}" y="{AXIS_Y}" text-anchor="end">0</text>',
    ]


def _bar(x: float, width: float, p: float, scale: float, err: float, series: int) -> str:
    h = max(p * scale, 0.0)
    parts = (
        f'<rect class="series-{series}" x="{x}" y="{AXIS_Y - h:.2f}" width="{width}" '
        f'height="{h:.2f}"/>'
    )
    if err > 0:
        cx = x + width / 2
        parts += (
            f'<line class="error" x1="{cx}" x2="{cx}" y1="{AXIS_Y - (p + err) * scale:.2f}"'
            f' y2="{AXIS_Y - max(p - err, 0) * scale:.2f}"/>'
        )
    return parts


def _label(x: float, text: str) -> str:
    return (
        f'<text class="bar-label" x="{x}" y="{AXIS_Y + 8}" '
        f'transform="rotate(60 {x} {AXIS_Y + 8})">{text}</text>'
    )


def histogram_svg(
    distribution: dict[str, float],
    errors: dict[str, float] | None = None,
    top: int = DEFAULT_TOP,
) -> Markup:
    """One bar per outcome; past `top` outcomes, the `top` most likely and an "other" bar
    holding the rest of the probability."""
    return grouped_histogram_svg([("", distribution, errors)], top)


def grouped_histogram_svg(
    series: Sequence[tuple[str, dict[str, float], dict[str, float] | None]],
    top: int = DEFAULT_TOP,
) -> Markup:
    """Distributions side by side, a bar of each per outcome (raw beside mitigated, one job
    beside another): the `top` outcomes most likely in any of them, then "other"."""
    top = max(1, min(top, max(TOP_CHOICES)))
    outcomes, rest = top_outcomes([distribution for _, distribution, _ in series], top)
    columns = outcomes + ([OTHER] if rest is not None else [])
    n = len(series)
    bar = 28 if n == 1 else max(10, 36 // n)
    gap = 8
    group = n * bar + gap
    width = LEFT + len(columns) * group + 16
    heights = [
        p + (errors or {}).get(outcome, 0.0)
        for _, distribution, errors in series
        for outcome, p in distribution.items()
        if outcome in outcomes
    ]
    top_value = max(heights + (rest or []) + [1e-12])
    scale = (AXIS_Y - TOP) / top_value
    kind = "histogram" if n == 1 else "histogram grouped"
    parts = _frame(kind, width, top_value)
    for i, outcome in enumerate(columns):
        x = LEFT + gap + i * group
        label = escape(outcome)
        extra = ' class="bar other"' if outcome == OTHER else ' class="bar"'
        parts.append(f'<g{extra} data-outcome="{label}">')
        for s, (name, distribution, errors) in enumerate(series):
            if outcome == OTHER:
                p, err = (rest or [0.0])[s], 0.0
            else:
                p, err = distribution.get(outcome, 0.0), (errors or {}).get(outcome, 0.0)
            who = escape(name + ": " if name else "")
            parts.append(
                f'<g class="value" data-series="{escape(name)}" data-value="{p!r}">'
                f"<title>{who}{label}: {_num(p)}</title>"
                f"{_bar(x + s * bar, bar, p, scale, err, s)}</g>"
            )
        parts.append(_label(x + n * bar / 2, label) + "</g>")
    parts.append("</svg>")
    if rest is not None:
        total = len({o for _, d, _ in series for o in d})
        parts.append(
            f'<p class="note">The {len(outcomes)} most likely of {total} outcomes; '
            '"other" holds the rest of the probability.</p>'
        )
    if n > 1:
        parts.append(legend([name for name, _, _ in series]))
    return Markup("".join(parts))


def legend(names: list[str]) -> str:
    items = "".join(
        f'<span class="key"><svg width="12" height="12" aria-hidden="true">'
        f'<rect class="series-{i}" width="12" height="12"/></svg> {escape(name)}</span> '
        for i, name in enumerate(names)
    )
    return f'<p class="legend">{items}</p>'


def expectation_svg(points: list[Point], names: list[str] | None = None) -> Markup:
    """A point per value with a ±1 standard error bar; the y axis always spans [-1, 1] at least.
    Points of several series (raw and mitigated, two jobs) sit side by side per label."""
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
            f'<g class="point series-{point.series}" data-label="{label}" '
            f'data-value="{point.value!r}" data-error="{point.error!r}"><title>{label}: '
            f"{_num(point.value)} ± {_num(point.error)}</title>"
            f'<line class="error" x1="{cx}" x2="{cx}" y1="{top:.2f}" y2="{bottom:.2f}"/>'
            f'<line class="error" x1="{cx - 5}" x2="{cx + 5}" y1="{top:.2f}" y2="{top:.2f}"/>'
            f'<line class="error" x1="{cx - 5}" x2="{cx + 5}" y1="{bottom:.2f}" y2="{bottom:.2f}"/>'
            f'<circle class="series-{point.series}" cx="{cx}" cy="{y(point.value):.2f}" r="4"/>'
            f"{_label(cx, label)}</g>"
        )
    parts.append("</svg>")
    if names and len(names) > 1:
        parts.append(legend(names))
    return Markup("".join(parts))
