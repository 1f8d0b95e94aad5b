"""qorch read-model documents in the shapes the haiqu-sdk 1.7.0 client parses (pydantic models
that ignore unknown fields but require theirs): int user ids, a nested user, string tags."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from qorch.domain.user import User
from qorch.http.presenters import first_error

CIRCUIT_STATUS = "Done"


def sdk_user_id(user_id: UUID | str) -> int:
    """A stable int per user (the SDK's user_id is an int): 52 bits of the user's UUID."""
    return int(UUID(str(user_id)).hex[:13], 16)


def user_shape(user: User, key: str) -> dict[str, Any]:
    return {
        "id": sdk_user_id(user.id),
        "user_id": sdk_user_id(user.id),
        "uuid": str(user.id),
        "email": f"{user.name}@qorch.local",
        "username": user.name,
        "first_name": user.name,
        "last_name": "",
        "api_access_key": key,
    }


def experiment_shape(doc: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    return {
        **doc,
        "uuid_user_id": doc["user_id"],
        "user_id": sdk_user_id(doc["user_id"]),
        "user": user,
        "description": doc.get("description") or "",
        "tags": ",".join(doc.get("tags") or []),
        "metrics": {},
    }


def device_shape(device: dict[str, Any]) -> dict[str, Any]:
    return {**device, "operation_names": list(device.get("basis_gates") or [])}


def circuit_shape(doc: dict[str, Any]) -> dict[str, Any]:
    metrics = dict(doc.get("metrics") or {})
    return {
        **doc,
        "uuid_user_id": doc["user_id"],
        "user_id": sdk_user_id(doc["user_id"]),
        "description": "",
        "tags": "",
        "status": CIRCUIT_STATUS,
        "generated": False,
        "parameter_names": list(doc.get("parameters") or []),
        "parameters": None,
        "metrics": metrics,
    }


def partial_logs(job: dict[str, Any]) -> str | None:
    """What the SDK shows of a Done job that kept only some results (`job.logs`)."""
    if not job.get("partial"):
        return None
    text = f"partial results: {job.get('failed_executions', 0)} execution(s) failed"
    first = first_error(job.get("errors"))
    if first is not None:
        where, failure = first
        text += f"; first at {where}: {failure.get('code')}: {failure.get('message')}"
    return text + " (info['errors'] nests like the results)"


def job_shape(job: dict[str, Any], sdk: dict[str, Any], program: dict[str, Any]) -> dict[str, Any]:
    """Both RunJobModel and HybridJobModel fields, so either model parses it."""
    error = job.get("error") or None
    info = dict(job.get("info") or {})
    info.setdefault("uncertainty", None)
    info["qpu_cost"] = None
    if job.get("partial"):
        info["errors"] = job.get("errors")  # the SDK's models keep `info`, not unknown fields
    results = job.get("quantum_results")
    if job.get("dry_run") and job.get("status") == "Done":
        results = []
    return {
        **job,
        "uuid_user_id": job["user_id"],
        "user_id": sdk_user_id(job["user_id"]),
        "name": job.get("name") or None,
        "description": job.get("description") or None,
        "job_type": sdk["job_type"],
        "program": sdk.get("program") or program,
        "readout_bases": sdk.get("readout_bases"),
        "input_circuit_ids": list(job.get("circuit_ids") or []),
        "options": dict(job.get("options") or {}),
        "logs": f"{error.get('code')}: {error.get('message')}" if error else partial_logs(job),
        "info": info,
        "quantum_results": results,
        "parameters": job.get("parameters"),
        "observables": job.get("observables"),
    }
