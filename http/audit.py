"""The audit log of a job (`GET /jobs/{id}/events`): every recorded event of the job in order.

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

from eventsourcing.persistence import MapperDeserialisationError
from pydantic_core import from_json

from qorch.domain.application import Qorch
from qorch.domain.errors import NotFound, Unreadable
from qorch.domain.job import BY_USER, BY_WORKER, Job

SECRET_NAME = re.compile(r"token|secret|password|api[_-]?key|credential(?!s_supplied)", re.I)
ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


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
        data = {k: v for k, v in vars(event).items() if k not in ENVELOPE}
        if isinstance(event, Job.Claimed):
            worker = data["worker_id"]
        if isinstance(event, BY_USER):
            actor: dict[str, str] = {"user_id": str(owner)}
        elif isinstance(event, BY_WORKER) and worker is not None:
            actor = {"worker_id": worker}
        else:
            actor = {"system": "qorch"}  # e.g. a job rejected before any worker claimed it
        if "results_json" in data:
            data["results_bytes"] = len(data.pop("results_json").encode())
            data["results"] = f"/jobs/{job_id}"
        if "options_json" in data:
            data["options"] = from_json(data.pop("options_json"))
        if "inputs_json" in data:
            data["inputs_bytes"] = len(data.pop("inputs_json").encode())
        if isinstance(event, Job.Restarted):
            worker = None
        entries.append(
            {
                "type": type(event).__name__,
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
