"""`GET /usage?period=YYYY-MM`: the caller's runs and what they cost in one UTC month, per
day, provider and device, with what their budget has left. The MCP tool `get_usage` and the
dashboard's usage page answer the same document (projections/usage_report.py)."""

from __future__ import annotations

import time
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qorch.bootstrap import Service
from qorch.domain.user import User
from qorch.http.auth import user_of
from qorch.http.context import query_of, service_of
from qorch.projections.usage_report import PERIOD, period_of, usage_report

PERIOD_FIELD = Field(
    None,
    pattern=f"^{PERIOD.pattern}$",
    description="A UTC calendar month, YYYY-MM (e.g. 2026-11); default: the current month.",
)


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str | None = PERIOD_FIELD


class UsageAmounts(BaseModel):
    jobs: int = Field(description="Runs that ended (Done or Error); dry runs are not usage.")
    tasks: int = Field(description="Tasks or jobs created at the providers.")
    shots: int = Field(description="Shots billed (paid devices) or run (simulators).")
    estimated_usd: float = Field(description="qorch's estimates of those runs (reservations).")
    actual_usd: float = Field(description="What they cost, as recorded when each ended.")


class UsageRow(UsageAmounts):
    day: str = Field(description="The UTC day the runs ended, YYYY-MM-DD.")
    provider: str
    device_id: str


class ProviderUsage(UsageAmounts):
    provider: str
    budget_left_usd: float | None = Field(
        description="The least any budget limit on this provider (or on all) has left; null: "
        "no limit."
    )


class UsageTotals(UsageAmounts):
    budget_left_usd: float | None = Field(
        description="What the limit on all providers together has left; null: no such limit."
    )


class BudgetLimit(BaseModel):
    model_config = ConfigDict(extra="allow")

    provider: str | None = Field(description="null: the limit on all providers together.")
    period: str = Field(description="month or total.")
    period_key: str
    limit_usd: float
    reserved_usd: float
    spent_usd: float
    left_usd: float


class Usage(BaseModel):
    period: str
    from_: str = Field(alias="from", description="The period's first day.")
    to: str = Field(description="The period's last day.")
    rows: list[UsageRow] = Field(description="Per day and device, by day then device.")
    providers: list[ProviderUsage]
    totals: UsageTotals
    budget: list[BudgetLimit] = Field(
        description="The caller's budget limits as they stand for this period."
    )


class UsageAnswer(Usage):
    context: str = Field(description="A short text summary for agents.")


async def usage_of(service: Service, user: User, period: str | None) -> dict[str, Any]:
    """The caller's usage report for `period` (None: this month); RequestError names `period`
    when it is not a month."""
    return await anyio.to_thread.run_sync(_usage_of, service, user, period)


def _usage_of(service: Service, user: User, text: str | None) -> dict[str, Any]:
    now = time.time()
    period = period_of(text, now)
    budget = service.app.budget_status(user.id, period.budget_time(now))
    return usage_report(
        service.views.connection(), str(user.id), period, service.catalogue.find, budget
    )


async def get_usage(request: Request) -> JSONResponse:
    user = user_of(request)
    query = query_of(request, UsageQuery, strict=False)
    return JSONResponse(await usage_of(service_of(request), user, query.period))


routes = [Route("/usage", get_usage, methods=["GET"])]
