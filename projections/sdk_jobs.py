"""haiqu-sdk view of jobs: the job type, program and readout bases a job was submitted with."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, TypedDict, Unpack

from qorch.domain.fields import from_opaque_json
from qorch.domain.submission import SdkJob
from qorch.projections.batch import Batch, Handlers, id_text
from qorch.projections.database import dumps, narrowed

DEFAULT_JOB_TYPE = "Run"
"""Jobs submitted through /ai/... or MCP: the haiqu-sdk reads them as Run jobs."""


def recorded(event: Any, batch: Batch) -> None:
    doc = {
        "job_type": event.job_type,
        "program": from_opaque_json(event.program_json),
        "readout_bases": event.readout_bases,
    }
    batch.insert(
        "INSERT OR REPLACE INTO sdk_jobs (job_id, job_type, doc) VALUES (?, ?, ?)",
        (id_text(event.job_id), event.job_type, dumps(doc)),
    )


HANDLERS: Handlers = {SdkJob.Recorded: recorded}


def get_sdk_job(db: sqlite3.Connection, job_id: str) -> dict[str, Any]:
    row = db.execute("SELECT doc FROM sdk_jobs WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        return {"job_type": DEFAULT_JOB_TYPE, "program": None, "readout_bases": None}
    doc: dict[str, Any] = json.loads(row[0])
    return doc


class JobFilters(TypedDict, total=False):
    job_type: str | None
    circuit_id: str | None


CONDITIONS = {
    "job_type": f"COALESCE(sdk_jobs.job_type, '{DEFAULT_JOB_TYPE}') = ?",
    "circuit_id": "jobs.id IN (SELECT job_id FROM job_circuits WHERE circuit_id = ?)",
}
"""What each of `JobFilters` asks of a job."""


def list_job_ids(
    db: sqlite3.Connection,
    user_id: str,
    experiment_id: str,
    *,
    limit: int = 10,
    **filters: Unpack[JobFilters],
) -> list[str]:
    """Ids of the experiment's jobs, newest first, optionally of one type or one circuit."""
    params: list[Any] = [user_id, experiment_id]
    query = narrowed(
        "SELECT jobs.id FROM jobs LEFT JOIN sdk_jobs ON sdk_jobs.job_id = jobs.id"
        " WHERE jobs.user_id = ? AND jobs.experiment_id = ?",
        params,
        {CONDITIONS[name]: value for name, value in filters.items()},
    )
    query += " ORDER BY jobs.created DESC, jobs.id LIMIT ?"
    params.append(limit)
    return [row[0] for row in db.execute(query, params)]
