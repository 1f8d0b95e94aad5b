"""The audit log of a job: `GET /jobs/{id}/events`, every recorded event of the job in order.

Read straight from the event log (not from a projection), so it is always complete. Each entry
names its actor: the user for Submitted, Cancelled and Restarted, the worker holding the claim
for Claimed, LeaseRenewed and the outcomes. Nothing secret is shown (credentials never reach the
log; any option whose name looks like a credential is masked all the same), and large payloads
are given as sizes: the results of Executed are read with GET /jobs/{id}.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import anyio
from eventsourcing.persistence import MapperDeserialisationError
from pydantic_core import from_json
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qorch.domain.application import Qorch
from qorch.domain.errors import NotFound, Unreadable
from qorch.domain.job import Job
from qorch.http.auth import current_user

SECRET_NAME = re.compile(r"token|secret|password|api[_-]?key|credential(?!s_supplied)", re.I)
ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}
USER_ACTIONS = {"Submitted", "Cancelled", "Restarted"}
WORKER_ACTIONS = {"Claimed", "LeaseRenewed", "Executed", "Failed", "DryRunEstimated"}


def job_events(app: Qorch, user_id: UUID, job_id: str) -> list[dict[str, Any]]:
    try:
        originator_id = UUID(job_id)
    except ValueError:
        raise NotFound("job", job_id) from None
    try:
        events: list[Any] = list(app.repository.event_store.get(originator_id))
    except MapperDeserialisationError as error:
        raise Unreadable(originator_id) from error
    if not events or not isinstance(events[0], Job.Submitted):
        raise NotFound("job", job_id)
    owner = events[0].user_id
    if owner != user_id:
        raise NotFound("job", job_id)
    entries = []
    worker: str | None = None
    for event in events:
        kind = type(event).__name__
        data = {k: v for k, v in vars(event).items() if k not in ENVELOPE}
        if kind == "Claimed":
            worker = data["worker_id"]
        if kind in USER_ACTIONS:
            actor: dict[str, str] = {"user_id": str(owner)}
        elif kind in WORKER_ACTIONS and worker is not None:
            actor = {"worker_id": worker}
        else:
            actor = {"system": "qorch"}  # e.g. a job rejected before any worker claimed it
        if "results_json" in data:
            data = {
                "results_bytes": len(data.pop("results_json").encode()),
                "results": f"/jobs/{job_id}",
            }
        if "options_json" in data:
            data["options"] = from_json(data.pop("options_json"))
        if "inputs_json" in data:
            data["inputs_bytes"] = len(data.pop("inputs_json").encode())
        if kind == "Restarted":
            worker = None
        entries.append(
            {
                "type": kind,
                "timestamp": event.timestamp.isoformat(),
                "originator_version": event.originator_version,
                "actor": actor,
                "data": _public(data),
            }
        )
    return entries


def _public(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            str(k): "[redacted]" if SECRET_NAME.search(str(k)) else _public(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_public(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # UUIDs, enums, dates


async def get_job_events(request: Request) -> JSONResponse:
    user = await current_user(request)
    app = request.app.state.service.app
    job_id = request.path_params["job_id"]
    entries = await anyio.to_thread.run_sync(job_events, app, user.id, job_id)
    return JSONResponse({"job_id": job_id, "events": entries})


routes = [Route("/jobs/{job_id}/events", get_job_events, methods=["GET"])]
