"""The dashboard's usage page: a month's spend per day and provider as a server-rendered SVG
chart, and the same document `GET /usage` answers (http/usage.py) as tables."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from html import escape
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from qorch.domain.errors import RequestError
from qorch.http.auth import user_of
from qorch.http.context import service_of
from qorch.http.dashboard.pages import Context, signed_in
from qorch.http.dashboard.rendering import render
from qorch.http.dashboard.session import Session
from qorch.http.usage import usage_of
from qorch.projections.usage_report import PERIOD_HELP

PALETTE = ("#2f5bd3", "#d9822b", "#1b7f3b", "#b42318", "#7a5af8", "#0e9384", "#c11574", "#667085")
"""One color per provider, in the order providers are listed (SVG fill attributes: the page's
Content-Security-Policy allows no inline styles)."""
HEIGHT, TOP, AXIS_Y, LEFT, BAR, GAP = 240, 16, 200, 64, 16, 6


@signed_in
async def usage_page(request: Request, session: Session, context: Context) -> Response:
    period = request.query_params.get("period") or None
    try:
        report = await usage_of(service_of(request), user_of(request), period)
    except RequestError as error:
        problem = f"{error.field}: {PERIOD_HELP}"
        shown = (period or "")[:32]
        return render("usage.html", 422, **context, report=None, problem=problem, period=shown)
    colors = colors_of(report)
    return render(
        "usage.html",
        **context,
        report=report,
        period=report["period"],
        colors=colors,
        chart=spend_chart(report, colors),
    )


def colors_of(report: dict[str, Any]) -> dict[str, str]:
    return {row["provider"]: PALETTE[i % len(PALETTE)] for i, row in enumerate(report["providers"])}


def spend_chart(report: dict[str, Any], colors: dict[str, str]) -> Markup:
    """Actual USD per day of the period, a bar per day stacked by provider."""
    spend: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in report["rows"]:
        spend[row["day"]][row["provider"]] += row["actual_usd"]
    first, last = date.fromisoformat(report["from"]), date.fromisoformat(report["to"])
    days = [date.fromordinal(n).isoformat() for n in range(first.toordinal(), last.toordinal() + 1)]
    top = max([sum(spend[day].values()) for day in days] + [0.0])
    scale = (AXIS_Y - TOP) / top if top > 0 else 0.0
    width = LEFT + len(days) * (BAR + GAP) + 16
    parts = [
        f'<svg class="spend-chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}" font-size="11">',
        f"<title>Spend per day and provider, {escape(report['period'])}</title>",
        f'<line x1="{LEFT}" y1="{AXIS_Y}" x2="{width - 8}" y2="{AXIS_Y}" stroke="#98a2b3"/>',
        _tick(TOP + 4, f"${top:.4g}"),
        _tick(AXIS_Y, "$0"),
    ]
    for i, day in enumerate(days):
        x = LEFT + GAP + i * (BAR + GAP)
        y = float(AXIS_Y)
        parts.append(f'<g class="day" data-day="{day}" data-usd="{sum(spend[day].values())!r}">')
        for provider, usd in sorted(spend[day].items()):
            h = usd * scale
            y -= h
            label = escape(f"{day} {provider}: ${usd:.6g}")
            parts.append(
                f'<rect class="spend" data-provider="{escape(provider)}" data-usd="{usd!r}" '
                f'x="{x}" y="{y:.2f}" width="{BAR}" height="{h:.2f}" '
                f'fill="{colors.get(provider, PALETTE[-1])}"><title>{label}</title></rect>'
            )
        if i % 5 == 0 or i == len(days) - 1:
            parts.append(
                f'<text x="{x + BAR / 2}" y="{AXIS_Y + 14}" text-anchor="middle" '
                f'fill="#667085">{day[8:]}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _tick(y: float, text: str) -> str:
    return f'<text x="{LEFT - 6}" y="{y}" text-anchor="end" fill="#667085">{escape(text)}</text>'
