"""Whether a user may submit one more job (or store one more circuit) now: a per-user submit
rate, a cap on open jobs and a storage quota.

Each answers 429 with the usual error body (the first two with Retry-After). The rate is counted
in each API process (a token bucket in memory: with N API processes a user may submit up to N
times the rate). The open-job cap and the quota count the user's jobs and stored bytes in the
read models, which every API process projects from the one shared log: they hold across
processes, give or take the submits of the last poll interval.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from uuid import UUID
from weakref import WeakKeyDictionary

import anyio

from qorch.adapters.quotas import Quotas
from qorch.bootstrap import Service
from qorch.domain.job import JobStatus
from qorch.http.errors import ApiError
from qorch.projections.database import stored_bytes

OPEN_STATUSES = tuple(sorted(status.value for status in JobStatus if not status.is_final))
# Named statuses keep the count on the (user_id, status) index: NOT IN the final ones would
# scan every job the user ever ran (33 ms at 100k jobs against 0.05 ms).
OPEN_JOBS_SQL = "SELECT COUNT(*) FROM jobs WHERE user_id = ? AND status IN ({})".format(
    ", ".join("?" * len(OPEN_STATUSES))
)


class TooManyRequests(ApiError):
    def __init__(self, code: str, message: str, retry_after: float) -> None:
        super().__init__(429, code, message)
        self.retry_after = max(1, math.ceil(retry_after))
        self.headers = {"Retry-After": str(self.retry_after)}


@dataclass
class SubmitRate:
    """A token bucket per user: `burst` submits at once, then `rate` per second."""

    rate: float
    burst: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, user: str, now: float) -> float:
        """Takes one submit; answers 0, or the seconds until one is allowed (nothing taken)."""
        if self.rate <= 0:
            return 0.0
        capacity = float(max(1, self.burst))
        with self.lock:
            tokens, then = self.buckets.get(user, (capacity, now))
            tokens = min(capacity, tokens + (now - then) * self.rate)
            if tokens < 1.0:
                self.buckets[user] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self.buckets[user] = (tokens - 1.0, now)
            if len(self.buckets) > 100_000:  # forget users whose buckets are full again
                full = [
                    u
                    for u, (t, at) in self.buckets.items()
                    if t + (now - at) * self.rate >= capacity
                ]
                for gone in full:
                    del self.buckets[gone]
            return 0.0


_rates: WeakKeyDictionary[object, SubmitRate] = WeakKeyDictionary()


def _rate_of(service: Service) -> SubmitRate:
    quotas: Quotas = service.quotas
    rate = _rates.get(service.app)
    if rate is None:
        rate = _rates[service.app] = SubmitRate(quotas.submit_rate, quotas.submit_burst)
    return rate


async def admit_upload(service: Service, user_id: UUID) -> None:
    """Raises TooManyRequests (429) when `user_id` may not store another circuit now: past the
    submit rate, or past their storage quota."""
    await _admit(service, user_id, count_open_jobs=False)


async def admit_submit(service: Service, user_id: UUID) -> None:
    """Raises TooManyRequests (429) when `user_id` may not submit another job now: the checks
    of `admit_upload`, and the cap on open jobs."""
    await _admit(service, user_id, count_open_jobs=True)


async def _admit(service: Service, user_id: UUID, count_open_jobs: bool) -> None:
    quotas: Quotas = service.quotas
    wait = _rate_of(service).take(str(user_id), time.monotonic())
    if wait > 0:
        raise TooManyRequests(
            "rate_limited",
            f"too many submits: at most {quotas.submit_rate:g} per second (bursts of "
            f"{quotas.submit_burst}) per user; retry in {math.ceil(wait)} s",
            wait,
        )
    cap = quotas.max_queued_per_user if count_open_jobs else 0
    if quotas.max_stored_mb <= 0 and cap <= 0:
        return
    # Counted in the views as they stand (every API process projects the one shared log, a
    # poll interval behind at most): waiting for the log's head would serialise all submits.
    stored, open_jobs = await anyio.to_thread.run_sync(_usage, service, str(user_id), cap > 0)
    if quotas.max_stored_mb > 0 and stored >= quotas.max_stored_mb * 1024 * 1024:
        raise ApiError(
            429,
            "storage_quota_exceeded",
            f"you have stored {stored / 2**20:,.0f} MiB of circuits, inputs and results, "
            f"the most one user may (QORCH_MAX_STORED_MB_PER_USER = {quotas.max_stored_mb})",
        )
    if cap > 0 and open_jobs >= cap:
        raise TooManyRequests(
            "too_many_open_jobs",
            f"you have {open_jobs} jobs queued or running, the most one user may have; submit "
            "more when some have finished (or cancel some)",
            max(1.0, service.settings.poll_interval * 10),
        )


def _usage(service: Service, user_id: str, with_open_jobs: bool) -> tuple[int, int]:
    db = service.views.connection()
    open_jobs = _open_jobs(service, user_id) if with_open_jobs else 0
    return stored_bytes(db, user_id), open_jobs


def _open_jobs(service: Service, user_id: str) -> int:
    row = service.views.connection().execute(OPEN_JOBS_SQL, (user_id, *OPEN_STATUSES))
    return int(row.fetchone()[0])
