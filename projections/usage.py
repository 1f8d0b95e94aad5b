"""What runs cost: each job's estimate and actual cost on its document, and the usage view.

`job_usage` (its table is created in projections/database.py) holds, per user, UTC day and
device, the runs that ended that day (Executed or Failed; dry runs are not usage) and what they
cost: jobs, provider tasks, shots, qorch's estimates and the actual cost. A run counts on the
day it ended, a restarted job once per run. Amounts are kept in micro-dollars: integer sums are
exact in any order, so the view does not depend on how the log was batched, and a replay
rebuilds it equal.

A job's document gains `estimated_usd` (qorch's estimate of the run: what it reserved from the
user's budget at submit, or a dry run's estimate; None when none was made) and `actual_cost`
(what the run cost, as the job recorded it: domain/costs.py; None until it ends, and where
nothing was billed). Both start again from None when the job is restarted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC
from typing import Any

from qorch.domain.budget import Budget
from qorch.domain.job import Job
from qorch.projections.batch import Batch, Handlers, id_text, json_value, timestamp_text

MICRO = 1_000_000
COUNT_RUN = (
    "INSERT INTO job_usage (user_id, day, device_id, jobs, tasks, shots, estimated_micro_usd,"
    " actual_micro_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, day, device_id)"
    " DO UPDATE SET jobs = jobs + excluded.jobs, tasks = tasks + excluded.tasks,"
    " shots = shots + excluded.shots,"
    " estimated_micro_usd = estimated_micro_usd + excluded.estimated_micro_usd,"
    " actual_micro_usd = actual_micro_usd + excluded.actual_micro_usd"
)
COLUMNS = ("day", "device_id", "jobs", "tasks", "shots", "estimated_usd", "actual_usd")


def with_costs(handlers: Handlers) -> Handlers:
    """The jobs view's handlers, each followed by what its event changes in costs and usage."""
    followed: Handlers = dict(handlers)
    for kind, follow in FOLLOWERS.items():
        first = handlers.get(kind)
        followed[kind] = follow if first is None else _then(first, follow)
    return followed


def _then(first: Callable[[Any, Batch], None], follow: Callable[[Any, Batch], None]) -> Any:
    def both(event: Any, batch: Batch) -> None:
        first(event, batch)
        follow(event, batch)

    return both


def submitted(event: Job.Submitted, batch: Batch) -> None:
    doc = batch.jobs.get(id_text(event.originator_id))
    if doc is not None:
        doc.update(estimated_usd=None, actual_cost=None)


def restarted(event: Job.Restarted, batch: Batch) -> None:
    _change(batch, event.originator_id, estimated_usd=None, actual_cost=None)


def reserved(event: Budget.Reserved, batch: Batch) -> None:
    """A paid run's estimate, reserved from the user's budget in the save that opened the run."""
    _change(batch, event.job_id, estimated_usd=float(event.usd))


def estimated(event: Job.DryRunEstimated, batch: Batch) -> None:
    amount = event.estimate.get("converted", {}).get("amount")
    if isinstance(amount, int | float) and not isinstance(amount, bool):
        _change(batch, event.originator_id, estimated_usd=float(amount))


def ended(event: Job.Executed | Job.Failed, batch: Batch) -> None:
    """The run ended: its cost goes on the job's document, and the run into the usage view."""
    cost = event.cost
    doc = _change(batch, event.originator_id, actual_cost=json_value(cost))
    if doc is None or doc["dry_run"]:
        return
    if cost is not None:
        tasks, shots, actual = cost["tasks"], cost["shots"], _micro(cost["usd"])
    else:
        tasks, actual = 0, 0
        shots = _shots_run(doc) if isinstance(event, Job.Executed) else 0
    estimate = _micro(doc.get("estimated_usd") or 0.0)
    key = (doc["user_id"], _day(event), doc["device_id"])
    batch.add_up(COUNT_RUN, key, (1, tasks, shots, estimate, actual))  # counts: domain/costs.py


def _day(event: Job.Event) -> str:
    """The UTC day of the event (its timestamp's text when it is already in UTC, as recorded)."""
    text = timestamp_text(event)
    if text.endswith("+00:00"):
        return text[:10]
    return event.timestamp.astimezone(UTC).date().isoformat()


FOLLOWERS: Handlers = {
    Job.Submitted: submitted,
    Job.Restarted: restarted,
    Job.DryRunEstimated: estimated,
    Job.Executed: ended,
    Job.Failed: ended,
    Budget.Reserved: reserved,
}


def _change(batch: Batch, job_id: Any, **fields: Any) -> dict[str, Any] | None:
    key = id_text(job_id)
    doc = batch.jobs.get(key)
    if doc is not None:
        doc.update(fields)
        batch.jobs.update(key)
    return doc


def _shots_run(doc: dict[str, Any]) -> int:
    """Shots a free device ran: the shots asked for, once per circuit (a StatevectorRun samples
    none). A paid device's come from its provider's bill instead."""
    if doc["run_type"] == "StatevectorRun":
        return 0
    return int(doc["shots"]) * len(doc["circuit_ids"])


def _micro(usd: float) -> int:
    return round(usd * MICRO)


def usage_rows(
    db: sqlite3.Connection, user_id: str, first_day: str, last_day: str
) -> list[dict[str, Any]]:
    """The user's usage from `first_day` to `last_day` (ISO dates, both included), by day
    then device; amounts in USD."""
    rows = db.execute(
        "SELECT day, device_id, jobs, tasks, shots, estimated_micro_usd, actual_micro_usd"
        " FROM job_usage WHERE user_id = ? AND day BETWEEN ? AND ? ORDER BY day, device_id",
        (user_id, first_day, last_day),
    )
    return [
        dict(zip(COLUMNS, (*row[:5], row[5] / MICRO, row[6] / MICRO), strict=True)) for row in rows
    ]
