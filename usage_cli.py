"""`qorch usage NAME [--period YYYY-MM] [--json]`: what a user's runs used and cost in a month,
the same document `GET /usage` answers (projections/usage_report.py), for an operator."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from qorch.settings import Settings

COLUMNS = ("jobs", "tasks", "shots", "estimated_usd", "actual_usd")


def add_parser(commands: Any) -> None:
    usage = commands.add_parser(
        "usage",
        help="a user's runs and what they cost in one UTC month, per day, provider and device, "
        "with what their budget has left",
    )
    usage.add_argument("name", help="the user's name, or their id")
    usage.add_argument("--period", help="the UTC month, YYYY-MM (default: this month)")
    usage.add_argument("--json", action="store_true", help="print the document GET /usage answers")
    usage.add_argument("--data-dir")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from qorch.bootstrap import open_application, open_catalogue
    from qorch.cli import one_user
    from qorch.domain.errors import RequestError
    from qorch.projections.database import ViewDatabase
    from qorch.projections.projector import Projector
    from qorch.projections.usage_report import period_of, usage_report

    now = time.time()
    try:
        period = period_of(args.period, now)
    except RequestError as error:
        print(f"qorch usage: {error}", file=sys.stderr)
        return 2
    catalogue = open_catalogue(settings)
    app = open_application(settings, catalogue)
    try:
        user = one_user(app, args.name, "qorch usage")
        if user is None:
            return 2
        views = ViewDatabase(settings.views_path)
        try:
            Projector(app, views).rebuild()  # the views caught up with the log first
            budget = app.budget_status(user.id, period.budget_time(now))
            report = usage_report(views.connection(), str(user.id), period, catalogue.find, budget)
        finally:
            views.close()
    finally:
        app.close()
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"usage of {user.name!r} ({user.id})")
        print("\n".join(table(report)))
    return 0


def table(report: dict[str, Any]) -> list[str]:
    """The report as aligned text: its summary, a line per day and device, then per provider
    and in all, then the budget's limits."""
    from qorch.budget_cli import budget_line
    from qorch.projections.usage_report import context_of

    header = ["day", "provider", "device", *COLUMNS]
    body = [
        [row["day"], row["provider"], row["device_id"], *_amounts(row)] for row in report["rows"]
    ]
    body += [
        [report["period"], row["provider"], "*", *_amounts(row)] for row in report["providers"]
    ]
    body.append([report["period"], "*", "*", *_amounts(report["totals"])])
    widths = [max(len(cell) for cell in column) for column in zip(header, *body, strict=True)]
    lines = [context_of(report), ""]
    for cells in (header, *body):
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        lines.append("  ".join(padded).rstrip())
    lines += ["budget " + budget_line(limit) for limit in report["budget"]]
    return lines


def _amounts(row: dict[str, Any]) -> list[str]:
    return [f"{row[name]:.6f}" if name.endswith("_usd") else str(row[name]) for name in COLUMNS]
