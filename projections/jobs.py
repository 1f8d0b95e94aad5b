"""Jobs view: status, request, timeline and (in a separate table) results of each job."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from pydantic_core import from_json

from qorch.domain.job import CLOSING, FINAL_STATUSES, STATUS_AFTER, Job
from qorch.projections import experiments
from qorch.projections.database import Handlers, add_usage, dumps

FINAL = {status.value for status in FINAL_STATUSES}


def submitted(event: Job.Submitted, db: sqlite3.Connection) -> None:
    when = event.timestamp.isoformat()
    job_id = str(event.originator_id)
    doc = {
        "id": job_id,
        "user_id": str(event.user_id),
        "experiment_id": str(event.experiment_id),
        "name": event.name,
        "description": event.description,
        "status": STATUS_AFTER[Job.Submitted].value,
        "job_type": "Run",
        "run_type": event.run_type,
        "device_id": event.device_id,
        "shots": event.shots,
        "circuit_ids": [str(c) for c in event.circuit_ids],
        "has_parameters": event.has_parameters,
        "has_observables": event.has_observables,
        "options": from_json(event.options_json),
        "credentials_supplied": list(event.credentials_supplied),
        "use_mitigation": event.use_mitigation,
        "dry_run": event.dry_run,
        "creation_date": when,
        "run_date": None,
        "finish_date": None,
        "attempts": 0,
        "error": None,
        "estimated_qpu_cost": None,
        "provider_job": None,
        "events": [{"type": type(event).__name__, "timestamp": when}],
    }
    db.execute(
        "INSERT INTO jobs (id, user_id, experiment_id, status, device_id, created, doc)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            job_id,
            doc["user_id"],
            doc["experiment_id"],
            doc["status"],
            doc["device_id"],
            when,
            dumps(doc),
        ),
    )
    # The bulky inputs are written once and never rewritten when the job's status changes.
    db.execute("INSERT INTO job_inputs (job_id, doc) VALUES (?, ?)", (job_id, event.inputs_json))
    db.executemany(
        "INSERT INTO job_circuits (job_id, circuit_id, position) VALUES (?, ?, ?)",
        [(job_id, circuit_id, i) for i, circuit_id in enumerate(doc["circuit_ids"])],
    )
    experiments.count(db, doc["experiment_id"], "jobs_count", when)
    add_usage(db, doc["user_id"], len(event.inputs_json))


def claimed(event: Job.Claimed, db: sqlite3.Connection) -> None:
    def change(doc: dict[str, Any], when: str) -> None:
        doc["run_date"] = doc["run_date"] or when
        doc["attempts"] += 1

    _update(event, db, change, {"worker": event.worker_id})


def provider_job_recorded(event: Job.ProviderJobRecorded, db: sqlite3.Connection) -> None:
    job = event.provider_job

    def change(doc: dict[str, Any], when: str) -> None:
        doc["provider_job"] = {"provider": job["provider"], "ids": job["ids"]}

    _update(event, db, change, {"provider": job["provider"]})


def lease_renewed(event: Job.LeaseRenewed, db: sqlite3.Connection) -> None:
    """Renewals keep a lease alive; the timeline would only be noise, so the view ignores them."""


def estimated(event: Job.DryRunEstimated, db: sqlite3.Connection) -> None:
    def change(doc: dict[str, Any], when: str) -> None:
        doc["estimated_qpu_cost"] = event.estimate

    _update(event, db, change)
    db.execute(
        "INSERT OR REPLACE INTO job_results (job_id, doc) VALUES (?, ?)",
        (str(event.originator_id), dumps({"quantum_results": []})),
    )


def executed(event: Job.Executed, db: sqlite3.Connection) -> None:
    _update(event, db)
    db.execute(
        "INSERT OR REPLACE INTO job_results (job_id, doc) VALUES (?, ?)",
        (str(event.originator_id), event.results_json),
    )
    owner = db.execute("SELECT user_id FROM jobs WHERE id = ?", (str(event.originator_id),))
    add_usage(db, owner.fetchone()[0], len(event.results_json))


def failed(event: Job.Failed, db: sqlite3.Connection) -> None:
    def change(doc: dict[str, Any], when: str) -> None:
        doc["error"] = event.error

    _update(event, db, change, {"code": event.error.get("code")})


def cancelled(event: Job.Cancelled, db: sqlite3.Connection) -> None:
    _update(event, db, details={"reason": event.reason})


def restarted(event: Job.Restarted, db: sqlite3.Connection) -> None:
    def change(doc: dict[str, Any], when: str) -> None:
        doc.update(finish_date=None, error=None, estimated_qpu_cost=None, provider_job=None)

    _update(event, db, change)
    db.execute("DELETE FROM job_results WHERE job_id = ?", (str(event.originator_id),))


def released(event: Job.Released, db: sqlite3.Connection) -> None:
    _update(event, db)


def _update(
    event: Job.Event,
    db: sqlite3.Connection,
    change: Callable[[dict[str, Any], str], None] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Applies `change` to the job's document, then the status the event leads to (the
    aggregate's own rule), and appends the event to the job's timeline."""
    job_id = str(event.originator_id)
    row = db.execute("SELECT doc FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        return
    when = event.timestamp.isoformat()
    doc = json.loads(row[0])
    if change is not None:
        change(doc, when)
    status = STATUS_AFTER.get(type(event))
    if status is not None:
        doc["status"] = status.value
    if isinstance(event, CLOSING):
        doc["finish_date"] = when
    doc["events"].append({"type": type(event).__name__, "timestamp": when, **(details or {})})
    db.execute(
        "UPDATE jobs SET status = ?, doc = ? WHERE id = ?", (doc["status"], dumps(doc), job_id)
    )
    experiments.touch(db, doc["experiment_id"], when)


HANDLERS: Handlers = {
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
        doc.update(from_json(inputs[0]) if inputs else {"parameters": None, "observables": None})
    return doc


def get_results(db: sqlite3.Connection, job_id: str) -> dict[str, Any] | None:
    row = db.execute("SELECT doc FROM job_results WHERE job_id = ?", (job_id,)).fetchone()
    return from_json(row[0]) if row else None


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
    query = "SELECT doc FROM jobs WHERE user_id = ?"
    params: list[Any] = [user_id]
    for column, value in (
        ("experiment_id", experiment_id),
        ("status", status),
        ("device_id", device_id),
    ):
        if value is not None:
            query += f" AND {column} = ?"
            params.append(value)
    query += " ORDER BY created DESC, id LIMIT ? OFFSET ?"
    return [json.loads(row[0]) for row in db.execute(query, [*params, limit, offset])]
