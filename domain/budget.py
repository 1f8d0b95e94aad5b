"""A user's spending limits on paid devices, and what their jobs reserved and spent against them.

One Budget per user, its id derived from the user's. An operator sets limits in USD, over all
time ("total") or per UTC calendar month ("month"), on every provider or on one. A real run on
a paid device reserves its estimated cost in the same save as the job's Submitted, so concurrent
submits race on this aggregate's version and cannot overspend together. Once the job has ended
its reservation is settled (what it cost) or released (it never reached a provider).

A reservation counts in the month it was made, also when it is settled later. Settled amounts
are folded into a total per (provider, month): the state grows by months, not by jobs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from qorch.domain.errors import BudgetExceeded, Conflict, RequestError
from qorch.domain.per_user import OnePerUser

PERIODS = ("total", "month")
ALL_PROVIDERS = ""
"""The key of a limit on every provider together."""
TOTAL = "total"
"""The period key of a limit over all time."""
MAX_LIMIT_USD = 1e9
PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def month_of(now: float) -> str:
    """The UTC calendar month of a POSIX time, as a monthly limit's period key: "2026-03"."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m")


@dataclass(frozen=True)
class Limit:
    usd: float
    period: str


@dataclass(frozen=True)
class Reservation:
    usd: float
    provider: str
    month: str


class Budget(OnePerUser, Aggregate):
    ID_PREFIX = "qorch:budget:"

    class Opened(Aggregate.Created):
        user_id: UUID

    class LimitSet(Aggregate.Event):
        provider: str
        usd: float
        period: str

    class LimitCleared(Aggregate.Event):
        provider: str

    class Reserved(Aggregate.Event):
        job_id: UUID
        usd: float
        provider: str
        month: str

    class Settled(Aggregate.Event):
        """The job ended and cost `usd` (its actual cost, else its estimate)."""

        job_id: UUID
        usd: float

    class Released(Aggregate.Event):
        """The job ended before it reached its provider: it cost nothing."""

        job_id: UUID

    @event(Opened)
    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        self.limits: dict[str, Limit] = {}
        """By provider (ALL_PROVIDERS: every provider together)."""
        self.open: dict[UUID, Reservation] = {}
        """By job: the reservations of jobs that have not been settled yet."""
        self.spent: dict[tuple[str, str], float] = {}
        """By (provider, month): what settled jobs cost."""

    # --- the operator's limits ---

    def set_limit(self, usd: float, period: str, provider: str | None) -> None:
        self.check_limit(usd, period, provider)
        self._limit_set(provider=provider or ALL_PROVIDERS, usd=float(usd), period=period)

    @staticmethod
    def check_limit(usd: float, period: str, provider: str | None) -> None:
        if isinstance(usd, bool) or not isinstance(usd, int | float) or not math.isfinite(usd):
            raise RequestError("usd", "must be a number of US dollars")
        if not 0 <= usd <= MAX_LIMIT_USD:
            raise RequestError("usd", f"must be between 0 and {MAX_LIMIT_USD:,.0f}")
        if period not in PERIODS:
            raise RequestError("period", f"must be one of {', '.join(PERIODS)}")
        if provider is not None and not PROVIDER_NAME.fullmatch(provider):
            raise RequestError("provider", "must be a provider's name, e.g. braket")

    @event(LimitSet)
    def _limit_set(self, provider: str, usd: float, period: str) -> None:
        self.limits[provider] = Limit(usd, period)

    def clear_limit(self, provider: str | None) -> None:
        if (provider or ALL_PROVIDERS) not in self.limits:
            raise Conflict(f"there is no limit on {provider or 'all providers'} to clear")
        self._limit_cleared(provider=provider or ALL_PROVIDERS)

    @event(LimitCleared)
    def _limit_cleared(self, provider: str) -> None:
        del self.limits[provider]

    def applies_to(self, provider: str) -> bool:
        return ALL_PROVIDERS in self.limits or provider in self.limits

    # --- reservations ---

    def reserve(self, job_id: UUID, usd: float, provider: str, now: float) -> None:
        month = month_of(now)
        self.check_not_reserved(job_id)
        self.check_affordable(usd, provider, month)
        self._reserved(job_id=job_id, usd=round(usd, 6), provider=provider, month=month)

    def check_not_reserved(self, job_id: UUID) -> None:
        if job_id in self.open:
            raise Conflict(f"job {job_id} already holds a reservation")

    def check_affordable(self, usd: float, provider: str, month: str) -> None:
        if not (math.isfinite(usd) and usd >= 0):
            raise Conflict(f"a cost estimate of {usd!r} USD cannot be reserved")
        for scope in dict.fromkeys((ALL_PROVIDERS, provider)):
            limit = self.limits.get(scope)
            if limit is None:
                continue
            key = period_key(limit.period, month)
            left = round(limit.usd - sum(self._used(scope, key)), 6)
            if round(usd, 6) > left:
                raise BudgetExceeded(
                    estimate_usd=round(usd, 6),
                    left_usd=max(left, 0.0),
                    limit_usd=limit.usd,
                    period=limit.period,
                    period_key=key,
                    provider=scope or None,
                )

    @event(Reserved)
    def _reserved(self, job_id: UUID, usd: float, provider: str, month: str) -> None:
        self.open[job_id] = Reservation(usd, provider, month)

    def settle(self, job_id: UUID, usd: float) -> None:
        self.check_reserved(job_id)
        self._settled(job_id=job_id, usd=round(max(usd, 0.0), 6))

    @event(Settled)
    def _settled(self, job_id: UUID, usd: float) -> None:
        reservation = self.open.pop(job_id)
        key = (reservation.provider, reservation.month)
        self.spent[key] = round(self.spent.get(key, 0.0) + usd, 6)

    def release(self, job_id: UUID) -> None:
        self.check_reserved(job_id)
        self._released(job_id=job_id)

    @event(Released)
    def _released(self, job_id: UUID) -> None:
        del self.open[job_id]

    def check_reserved(self, job_id: UUID) -> None:
        if job_id not in self.open:
            raise Conflict(f"job {job_id} holds no reservation")

    # --- where a budget stands ---

    def status(self, now: float) -> list[dict[str, Any]]:
        """Per limit (every provider first): its period now, and what is reserved, spent and
        left in it."""
        month = month_of(now)
        rows = []
        for scope, limit in sorted(self.limits.items()):
            key = period_key(limit.period, month)
            reserved, spent = self._used(scope, key)
            rows.append(
                {
                    "provider": scope or None,
                    "period": limit.period,
                    "period_key": key,
                    "limit_usd": limit.usd,
                    "reserved_usd": reserved,
                    "spent_usd": spent,
                    "left_usd": max(round(limit.usd - reserved - spent, 6), 0.0),
                }
            )
        return rows

    def _used(self, scope: str, key: str) -> tuple[float, float]:
        """What open reservations hold and settled jobs cost, within a limit's scope and
        period."""

        def counts(provider: str, month: str) -> bool:
            return scope in (ALL_PROVIDERS, provider) and key in (TOTAL, month)

        reserved = sum(r.usd for r in self.open.values() if counts(r.provider, r.month))
        spent = sum(usd for (p, m), usd in self.spent.items() if counts(p, m))
        return round(reserved, 6), round(spent, 6)


def period_key(period: str, month: str) -> str:
    return month if period == "month" else TOTAL
