"""A user's usage in one month, as every entrypoint answers it (REST, MCP, dashboard, CLI): the
rows of the usage view with each device's provider, totals per provider and in all, and what
the user's budget has left.

Built from plain inputs (the view database, the device catalogue's lookup, the budget's status)
so that the four entrypoints answer the same document for the same data.
"""

from __future__ import annotations

import calendar
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qorch.domain.devices import Device
from qorch.domain.errors import RequestError, usd
from qorch.projections.usage import usage_rows

PERIOD = re.compile(r"(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])")
PERIOD_HELP = "must be a month as YYYY-MM, e.g. 2026-11"
AMOUNTS = ("jobs", "tasks", "shots", "estimated_usd", "actual_usd")
UNKNOWN_PROVIDER = "unknown"
"""The provider of a device that left the catalogue."""


@dataclass(frozen=True)
class Period:
    """A UTC calendar month."""

    key: str
    """"2026-11"."""
    first_day: str
    last_day: str
    end: float
    """Its last second, POSIX time."""

    def budget_time(self, now: float) -> float:
        """When to read the budget for this period: now in the current month, else the
        period's last second (a monthly limit is read for the month of the time given)."""
        return now if datetime.fromtimestamp(now, UTC).strftime("%Y-%m") == self.key else self.end


def period_of(text: str | None, now: float) -> Period:
    """The month `text` names (YYYY-MM); None or empty: the current UTC month."""
    if not text:
        text = datetime.fromtimestamp(now, UTC).strftime("%Y-%m")
    found = PERIOD.fullmatch(text) if isinstance(text, str) else None
    if found is None or int(found["year"]) < 1970:
        raise RequestError("period", PERIOD_HELP)
    year, month = int(found["year"]), int(found["month"])
    days = calendar.monthrange(year, month)[1]
    end = datetime(year, month, days, 23, 59, 59, tzinfo=UTC).timestamp()
    return Period(text, f"{text}-01", f"{text}-{days:02d}", end)


def usage_report(
    db: sqlite3.Connection,
    user_id: str,
    period: Period,
    find_device: Callable[[str], Device | None],
    budget: list[dict[str, Any]],
) -> dict[str, Any]:
    """{period, from, to, rows, providers, totals, budget}: per day and device the runs that
    ended and what they cost; per provider the same summed, with `budget_left_usd` (the least
    any limit on it has left, None when none limits it); `budget`: the limits as they stand
    for this period (monthly limits of this month, and limits over all time)."""
    rows = [
        {"day": row["day"], "provider": _provider(find_device, row["device_id"]), **row}
        for row in usage_rows(db, user_id, period.first_day, period.last_day)
    ]
    limits = [
        limit for limit in budget if limit["period"] != "month" or limit["period_key"] == period.key
    ]
    providers = sorted({row["provider"] for row in rows} | _limited(limits))
    return {
        "period": period.key,
        "from": period.first_day,
        "to": period.last_day,
        "rows": rows,
        "providers": [
            {
                "provider": name,
                **_summed(row for row in rows if row["provider"] == name),
                "budget_left_usd": _left(limits, name),
            }
            for name in providers
        ],
        "totals": {**_summed(rows), "budget_left_usd": _left(limits, None)},
        "budget": limits,
    }


def _provider(find_device: Callable[[str], Device | None], device_id: str) -> str:
    device = find_device(device_id)
    return device.provider if device is not None else UNKNOWN_PROVIDER


def _summed(rows: Any) -> dict[str, Any]:
    totals: dict[str, Any] = dict.fromkeys(AMOUNTS, 0)
    for row in rows:
        for name in AMOUNTS:
            totals[name] += row[name]
    for name in ("estimated_usd", "actual_usd"):
        totals[name] = round(totals[name], 6)
    return totals


def _limited(limits: list[dict[str, Any]]) -> set[str]:
    return {limit["provider"] for limit in limits if limit["provider"] is not None}


def _left(limits: list[dict[str, Any]], provider: str | None) -> float | None:
    """The least any limit on `provider`, or on every provider together, has left (provider
    None: the limit on every provider together); None when no limit applies."""
    scopes = (None,) if provider is None else (None, provider)
    left = [limit["left_usd"] for limit in limits if limit["provider"] in scopes]
    return min(left) if left else None


def context_of(report: dict[str, Any]) -> str:
    """A short text for agents and the command line."""
    totals = report["totals"]
    head = f"Usage in {report['period']} (UTC): "
    if not report["rows"]:
        head += "no runs ended."
    else:
        head += (
            f"{totals['jobs']} run(s), {totals['tasks']} provider task(s), "
            f"{totals['shots']} shot(s); actual {usd(totals['actual_usd'])}, "
            f"estimated {usd(totals['estimated_usd'])}."
        )
    parts = [
        f" {row['provider']}: {usd(row['actual_usd'])}"
        + (
            f" (budget left {usd(row['budget_left_usd'])})"
            if row["budget_left_usd"] is not None
            else ""
        )
        for row in report["providers"]
    ]
    if totals["budget_left_usd"] is not None:
        parts.append(f" all providers: budget left {usd(totals['budget_left_usd'])}")
    return head + (" By provider:" + ";".join(parts) + "." if parts else "")
