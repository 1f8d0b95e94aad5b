"""Reads for the web dashboard, and the job positions behind its live stream.

A job's row in the jobs view holds the log position of the last event that changed what the
dashboard shows of it (`position`). The position is the notification id, so a rebuild from the
log gives the same rows (replay stays deterministic), and a browser that reconnects with
`Last-Event-ID: N` is sent exactly the jobs whose position is above N.
"""

from __future__ import annotations

import json
import sqlite3
from functools import cache
from typing import Any

from qorch.domain.job import QUIET, Job
from qorch.projections import jobs
from qorch.projections.batch import Batch, id_text

SUMMARY_FIELDS = (
    "id",
    "name",
    "status",
    "experiment_id",
    "device_id",
    "run_type",
    "shots",
    "dry_run",
    "creation_date",
    "finish_date",
)


def track(event: Any, position: int, batch: Batch) -> None:
    """Records that a job's view changed at `position` (called by the projector)."""
    kind: type = type(event)
    if changes_a_job(kind):
        batch.jobs.moved(id_text(event.originator_id), position)


@cache  # per event class: `issubclass` costs more than the rest of `track`
def changes_a_job(kind: type) -> bool:
    # Job.Event is the base class of this aggregate's events only (eventsourcing defines it per
    # aggregate class), so circuit and experiment events are left out here.
    return issubclass(kind, Job.Event) and not issubclass(kind, QUIET)


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {field: doc.get(field) for field in SUMMARY_FIELDS}


def changed_jobs(
    db: sqlite3.Connection, user_id: str, after: int, limit: int = 200
) -> list[tuple[int, dict[str, Any]]]:
    """The user's jobs changed after log position `after`, oldest change first."""
    rows = db.execute(
        "SELECT position, doc FROM jobs WHERE user_id = ? AND position > ?"
        " ORDER BY position LIMIT ?",
        (user_id, after, limit),
    )
    return [(int(row[0]), summary(json.loads(row[1]))) for row in rows]


def latest_change(db: sqlite3.Connection, user_id: str) -> int:
    row = db.execute("SELECT MAX(position) FROM jobs WHERE user_id = ?", (user_id,)).fetchone()
    return int(row[0] or 0)


def jobs_page(
    db: sqlite3.Connection, user_id: str, limit: int = 50, offset: int = 0, **filters: str | None
) -> list[dict[str, Any]]:
    """One page of the user's jobs, newest first, as summaries (no timeline, no options);
    `filters` are status, device_id, experiment_id (empty: any).

    Served by the (user_id[, status | device_id], created) indexes: the page costs O(limit).
    """
    chosen = {name: value or None for name, value in filters.items()}
    found = jobs.list_jobs(db, user_id, limit=limit, offset=offset, **chosen)
    return [summary(doc) for doc in found]


def device_ids(db: sqlite3.Connection, user_id: str) -> list[str]:
    """The devices the user's jobs ran on (for the filter menu)."""
    rows = db.execute(
        "SELECT DISTINCT device_id FROM jobs WHERE user_id = ? ORDER BY device_id", (user_id,)
    )
    return [row[0] for row in rows]


def experiment_names(db: sqlite3.Connection, user_id: str, limit: int = 500) -> dict[str, str]:
    rows = db.execute(
        "SELECT id, json_extract(doc, '$.name') FROM experiments WHERE user_id = ?"
        " ORDER BY created DESC LIMIT ?",
        (user_id, limit),
    )
    return {row[0]: row[1] or "" for row in rows}


def circuit_names(db: sqlite3.Connection, user_id: str, circuit_ids: list[str]) -> dict[str, str]:
    if not circuit_ids:
        return {}
    marks = ",".join("?" for _ in circuit_ids)
    rows = db.execute(
        "SELECT id, json_extract(doc, '$.name') FROM circuits"
        f" WHERE user_id = ? AND id IN ({marks})",
        (user_id, *circuit_ids),
    )
    return {row[0]: row[1] or "" for row in rows}


def jobs_of_circuit(
    db: sqlite3.Connection, user_id: str, circuit_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT DISTINCT j.doc, j.created FROM job_circuits c JOIN jobs j ON j.id = c.job_id"
        " WHERE c.circuit_id = ? AND j.user_id = ? ORDER BY j.created DESC LIMIT ?",
        (circuit_id, user_id, limit),
    )
    return [summary(json.loads(row[0])) for row in rows]


def job_inputs(db: sqlite3.Connection, job_id: str) -> dict[str, Any]:
    row = db.execute("SELECT doc FROM job_inputs WHERE job_id = ?", (job_id,)).fetchone()
    return json.loads(row[0]) if row else {}
