"""The `status_changes` view: every status change of every job, in log order.

One row per job event that sets a status (`STATUS_AFTER`: Submitted, Claimed, Released,
DryRunEstimated, Executed, Failed, Cancelled, Restarted), keyed by the event's log position
(the notification id), so a rebuild from the log (`qorch replay`) gives the same rows. A job
claimed again after its worker was lost reports `Running` again (its `attempts` one more). A row
keeps what changes with the status, as it was then; the job's fixed fields are read from the
jobs view. Readers get the compact job, never its results, inputs or options:

    id, experiment_id, status, status_date (when it took this status), device_id, name,
    run_type, shots, dry_run, creation_date, attempts, finish_date (final statuses only),
    partial, failed_executions, error ({code, message, ...} as the job shows it; Error only)

Readers (the `/events` stream, webhook delivery) follow it with

    changes_after(connection, user_id, position, job_id=None, experiment_id=None,
                  statuses=None, limit=200) -> list[StatusChange]

the user's changes with a log position above `position`, oldest first, at most `limit`;
`statuses` is a collection of status texts ("Queued", "Done", ...). Resuming from the last
position read misses nothing and repeats nothing. Jobs that changed before the view existed are
in it once `qorch replay` has rebuilt the views.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from qorch.domain.job import JobStatus
from qorch.projections.batch import Batch, id_text, timestamp_text
from qorch.projections.database import dumps, narrowed
from qorch.projections.jobs import FINAL, STATUS_TEXT

COLUMNS = (
    "INSERT INTO status_changes (position, user_id, job_id, experiment_id, status, status_date,"
    " attempts, failed_executions"
)
INSERT = f"{COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_ERROR = f"{COLUMNS}, error_code, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
"""A change to Error, with its error (sqlite3 checks every None it is given for an adapter,
which costs as much as the rest of the row: other rows leave the two columns out)."""
FIXED = ("name", "run_type", "shots", "dry_run", "creation_date")
"""The job's fields no event changes, read from the jobs view (besides its id, experiment and
device, which are columns)."""
PATHS = ", ".join(f"'$.{field}'" for field in FIXED)
SELECT = (
    "SELECT s.position, s.user_id, s.job_id, s.experiment_id, s.status, s.status_date,"
    " s.attempts, s.failed_executions, s.error_code, s.error, j.device_id,"
    f" json_extract(j.doc, {PATHS})"
    " FROM status_changes s JOIN jobs j ON j.id = s.job_id"
)
MAX_LIMIT = 1000
ERROR = JobStatus.ERROR.value  # (a member read from its class costs more than the rest of `track`)


@dataclass(frozen=True)
class StatusChange:
    position: int
    """The log position of the event that set the status: the stream's event id."""
    user_id: str
    job_id: str
    experiment_id: str
    status: str
    error_code: str | None
    job: dict[str, Any]
    """The compact job as it was at this change (see the module's docstring)."""


def track(event: Any, position: int, batch: Batch) -> None:
    """Records the status the event sets, after the jobs view applied it (called by the
    projector for every event a view handles)."""
    status = STATUS_TEXT.get(type(event))
    if status is None:
        return
    job_id = id_text(event.originator_id)
    doc = batch.jobs.get(job_id)
    if doc is None:
        return
    row = (
        position,
        doc["user_id"],
        job_id,
        doc["experiment_id"],
        status,
        timestamp_text(event),
        doc["attempts"],
        doc.get("failed_executions", 0),
    )
    error = doc["error"] if status == ERROR else None
    if error is None:
        batch.insert(INSERT, row)
        return
    code = error.get("code") if isinstance(error, dict) else None
    batch.insert(INSERT_ERROR, (*row, code if isinstance(code, str) else None, dumps(error)))


def changes_after(
    connection: sqlite3.Connection,
    user_id: str,
    position: int,
    job_id: str | None = None,
    experiment_id: str | None = None,
    statuses: Collection[str] | None = None,
    limit: int = 200,
) -> list[StatusChange]:
    """The user's status changes after log position `position`, oldest first (at most `limit`,
    itself at most MAX_LIMIT); `None` filters match anything, an empty `statuses` nothing."""
    if job_id is not None:  # the job's own index: a job's changes are few
        query = f"{SELECT} WHERE s.job_id = ? AND s.user_id = ?"
        params: list[Any] = [job_id, user_id]
    else:
        query = f"{SELECT} WHERE s.user_id = ?"
        params = [user_id]
    query += " AND s.position > ?"
    params.append(position)
    query = narrowed(query, params, {"s.experiment_id = ?": experiment_id})
    if statuses is not None:
        chosen = sorted(set(statuses))
        query += f" AND s.status IN ({','.join('?' * len(chosen))})"
        params.extend(chosen)
    query += " ORDER BY s.position LIMIT ?"
    params.append(max(0, min(limit, MAX_LIMIT)))
    return [_change(tuple(row)) for row in connection.execute(query, params)]


def _change(row: tuple[Any, ...]) -> StatusChange:
    position, user_id, job_id, experiment_id, status, when, attempts, failed = row[:8]
    error_code, error, device_id, fixed = row[8:]
    job = {"id": job_id, "experiment_id": experiment_id, "status": status, "status_date": when}
    job["device_id"] = device_id
    job.update(zip(FIXED, json.loads(fixed), strict=True))
    job.update(attempts=attempts, finish_date=when if status in FINAL else None)
    job.update(partial=failed > 0, failed_executions=failed)
    job["error"] = None if error is None else json.loads(error)
    return StatusChange(int(position), user_id, job_id, experiment_id, status, error_code, job)
