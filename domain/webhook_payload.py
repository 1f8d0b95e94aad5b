"""What a webhook pushes for a job's status change: the compact job, as `GET /events` shows it.

Never the job's results, parameters, observables or options, nor anything about credentials
(the names supplied are not sent either). The envelope is Standard Webhooks' recommended one:
`{"type": "job.done", "timestamp": ..., "data": {...}}`.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json, to_json

from qorch.domain.job import FINAL_STATUSES, STATUS_AFTER, Job
from qorch.domain.results import failed_executions
from qorch.domain.webhook import EVENT_TYPES

MAX_MESSAGE = 1000


def job_change(job: Job, change: Any) -> dict[str, Any]:
    """The push for `change`, one of the job's events that sets a status (STATUS_AFTER); `job`
    is the job as that event left it."""
    status = STATUS_AFTER[type(change)]
    final = status in FINAL_STATUSES
    failed = _failed_in(job, change) if isinstance(change, Job.Executed) else 0
    data = {
        "id": str(job.id),
        "experiment_id": str(job.experiment_id),
        "status": status.value,
        "device_id": job.device_id,
        "name": job.name,
        "run_type": job.run_type,
        "shots": job.shots,
        "dry_run": job.dry_run,
        "attempts": job.attempts,
        "creation_date": job.created_on.isoformat(),
        "finish_date": change.timestamp.isoformat() if final else None,
        "error": _error(change.error) if isinstance(change, Job.Failed) else None,
        "partial": failed > 0,
        "failed_executions": failed,
    }
    return {"type": EVENT_TYPES[status], "timestamp": change.timestamp.isoformat(), "data": data}


def encoded(payload: dict[str, Any]) -> str:
    return to_json(payload).decode()


def _error(error: Any) -> dict[str, Any] | None:
    if not isinstance(error, dict):
        return None
    code, message = error.get("code"), error.get("message")
    return {
        "code": code if isinstance(code, str) else None,
        "message": message[:MAX_MESSAGE] if isinstance(message, str) else None,
        "retryable": error.get("retryable") is True,
    }


def _failed_in(job: Job, executed: Job.Executed) -> int:
    if '"errors"' not in executed.results_json:  # parsing megabytes only when it may hold some
        return 0
    return failed_executions(
        from_json(executed.results_json).get("errors"),
        with_parameters=job.has_parameters,
        with_observables=job.has_observables,
    )
