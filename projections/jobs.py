"""Jobs view: status, request, timeline and (in a separate table) results of each job."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic_core import from_json

from qorch.domain.job import CLOSING, FINAL_STATUSES, STATUS_AFTER, Job
from qorch.domain.results import failed_executions
from qorch.projections import experiments, usage
from qorch.projections.batch import Batch, Handlers, id_text, json_value, sql_value, timestamp_text
from qorch.projections.database import dumps, narrowed

FINAL = {status.value for status in FINAL_STATUSES}
STATUS_TEXT = {kind: status.value for kind, status in STATUS_AFTER.items()}
EMPTY_RESULTS = dumps({"quantum_results": []})
"""What a dry run leaves as its results."""
NO_INPUTS_JSON = Job.encode_inputs(None, None)
"""The inputs of a job without parameters or observables: no `job_inputs` row."""


def submitted(event: Job.Submitted, batch: Batch) -> None:
    when = timestamp_text(event)
    job_id = id_text(event.originator_id)
    circuit_ids = [id_text(c) for c in event.circuit_ids]
    options = from_json(event.options_json)
    credentials_supplied = list(event.credentials_supplied)
    doc = {
        "attempts": 0,
        "circuit_ids": circuit_ids,
        "creation_date": when,
        "credentials_supplied": credentials_supplied,
        "description": event.description,
        "device_id": event.device_id,
        "dry_run": event.dry_run,
        "error": None,
        "estimated_qpu_cost": None,
        "events": [{"timestamp": when, "type": "Submitted"}],
        "experiment_id": id_text(event.experiment_id),
        "failed_executions": 0,
        "finish_date": None,
        "has_observables": event.has_observables,
        "has_parameters": event.has_parameters,
        "id": job_id,
        "job_type": "Run",
        "name": event.name,
        "options": options,
        "partial": False,
        "provider_job": None,
        "run_date": None,
        "run_type": event.run_type,
        "shots": event.shots,
        "status": STATUS_TEXT[Job.Submitted],
        "use_mitigation": event.use_mitigation,
        "user_id": id_text(event.user_id),
    }
    batch.jobs.add(job_id, doc)
    # The bulky inputs are written once and never rewritten when the job's status changes; most
    # jobs have none, and readers take a missing row for none (a replay writes a tenth less).
    if event.inputs_json != NO_INPUTS_JSON:
        batch.insert(
            "INSERT INTO job_inputs (job_id, doc) VALUES (?, ?)", (job_id, event.inputs_json)
        )
    batch.insert(
        "INSERT INTO job_circuits (job_id, circuit_id, position) VALUES (?, ?, ?)",
        *[(job_id, circuit_id, i) for i, circuit_id in enumerate(doc["circuit_ids"])],
    )
    experiments.count(batch, doc["experiment_id"], "jobs_count", when)
    batch.add_usage(doc["user_id"], len(event.inputs_json))


def claimed(event: Job.Claimed, batch: Batch) -> None:
    def change(doc: dict[str, Any], when: str) -> None:
        doc["run_date"] = doc["run_date"] or when
        doc["attempts"] += 1

    _update(event, batch, change, {"worker": event.worker_id})


def provider_job_recorded(event: Job.ProviderJobRecorded, batch: Batch) -> None:
    job = event.provider_job

    def change(doc: dict[str, Any], when: str) -> None:
        doc["provider_job"] = json_value({"provider": job["provider"], "ids": job["ids"]})

    _update(event, batch, change, {"provider": job["provider"]})


def lease_renewed(event: Job.LeaseRenewed, batch: Batch) -> None:
    """Renewals keep a lease alive; the timeline would only be noise, so the view ignores them."""


def estimated(event: Job.DryRunEstimated, batch: Batch) -> None:
    def change(doc: dict[str, Any], when: str) -> None:
        doc["estimated_qpu_cost"] = json_value(event.estimate)

    _update(event, batch, change)
    batch.results[id_text(event.originator_id)] = EMPTY_RESULTS


def executed(event: Job.Executed, batch: Batch) -> None:
    job_id = id_text(event.originator_id)

    def change(doc: dict[str, Any], when: str) -> None:
        failed = failed_in(event.results_json, doc)
        doc.update(partial=failed > 0, failed_executions=failed)

    _update(event, batch, change)
    batch.results[job_id] = sql_value(event.results_json)
    owner = batch.jobs.get(job_id)
    batch.add_usage(owner["user_id"], len(event.results_json))  # type: ignore[index]


def failed(event: Job.Failed, batch: Batch) -> None:
    def change(doc: dict[str, Any], when: str) -> None:
        doc["error"] = json_value(event.error)

    _update(event, batch, change, {"code": event.error.get("code")})


def cancelled(event: Job.Cancelled, batch: Batch) -> None:
    _update(event, batch, details={"reason": event.reason})


def restarted(event: Job.Restarted, batch: Batch) -> None:
    def change(doc: dict[str, Any], when: str) -> None:
        doc.update(finish_date=None, error=None, estimated_qpu_cost=None, provider_job=None)
        doc.update(partial=False, failed_executions=0)

    _update(event, batch, change)
    batch.results[id_text(event.originator_id)] = None


def released(event: Job.Released, batch: Batch) -> None:
    _update(event, batch)


def _update(
    event: Job.Event,
    batch: Batch,
    change: Callable[[dict[str, Any], str], None] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Applies `change` to the job's document, then the status the event leads to (the
    aggregate's own rule), and appends the event to the job's timeline."""
    job_id = id_text(event.originator_id)
    doc = batch.jobs.get(job_id)
    if doc is None:
        return
    when = timestamp_text(event)
    if change is not None:
        change(doc, when)
    kind = type(event)
    status = STATUS_TEXT.get(kind)
    if status is not None:
        doc["status"] = status
    if closes(kind):
        doc["finish_date"] = when
    entry = {"timestamp": when, "type": kind.__name__}
    if details is not None:
        entry.update(details)
    doc["events"].append(entry)
    batch.jobs.update(job_id)
    experiments.touch(batch, doc["experiment_id"], when)


def failed_in(results_json: str, doc: dict[str, Any]) -> int:
    """Executions the results record as failed. Results can be large: they are parsed only
    when they may hold `errors` (the text search costs far less than parsing)."""
    if '"errors"' not in results_json:
        return 0
    return failed_executions(
        from_json(results_json).get("errors"),
        with_parameters=doc["has_parameters"],
        with_observables=doc["has_observables"],
    )


@cache  # per event class: `issubclass` costs more than the rest of `_update`
def closes(kind: type) -> bool:
    return issubclass(kind, CLOSING)


HANDLERS: Handlers = usage.with_costs(  # each job's cost, and the usage view
    {
        Job.Submitted: submitted,
        Job.Claimed: claimed,
        Job.LeaseRenewed: lease_renewed,
        Job.ProviderJobRecorded: provider_job_recorded,
        Job.DryRunEstimated: estimated,
        Job.Executed: executed,
        Job.Failed: failed,
        Job.Cancelled: cancelled,
        Job.Restarted: restarted,
        Job.Released: released,
    }
)


def get_job(
    db: sqlite3.Connection, user_id: str, job_id: str, *, with_inputs: bool = True
) -> dict[str, Any] | None:
    """The job's document; with its parameters and observables unless `with_inputs` is False."""
    row = db.execute(
        "SELECT doc FROM jobs WHERE id = ? AND user_id = ?", (job_id, user_id)
    ).fetchone()
    if row is None:
        return None
    doc: dict[str, Any] = json.loads(row[0])
    if with_inputs:
        inputs = db.execute("SELECT doc FROM job_inputs WHERE job_id = ?", (job_id,)).fetchone()
        doc.update(from_json(inputs[0] if inputs else NO_INPUTS_JSON))
    return doc


def get_results(db: sqlite3.Connection, job_id: str) -> dict[str, Any] | None:
    row = db.execute("SELECT doc FROM job_results WHERE job_id = ?", (job_id,)).fetchone()
    return from_json(row[0]) if row else None


def get_results_json(db: sqlite3.Connection, job_id: str) -> bytes | None:
    """The job's results as their JSON text (UTF-8), unparsed."""
    row = db.execute(
        "SELECT CAST(doc AS BLOB) FROM job_results WHERE job_id = ?", (job_id,)
    ).fetchone()
    return bytes(row[0]) if row else None


def list_jobs(
    db: sqlite3.Connection,
    user_id: str,
    *,
    experiment_id: str | None = None,
    status: str | None = None,
    device_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    params: list[Any] = [user_id]
    query = narrowed(
        "SELECT doc FROM jobs WHERE user_id = ?",
        params,
        {"experiment_id = ?": experiment_id, "status = ?": status, "device_id = ?": device_id},
    )
    query += " ORDER BY created DESC, id LIMIT ? OFFSET ?"
    return [json.loads(row[0]) for row in db.execute(query, [*params, limit, offset])]
