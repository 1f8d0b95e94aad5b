"""`GET /events`: the caller's job status changes as server-sent events, for API clients.

Each event is one status change (the `status_changes` view): `id:` its log position, `event:
job`, `data:` the compact job as it was at that change (never results, inputs or options). A
client that reconnects sends `Last-Event-ID` (or `after=`) and is sent every change it has not
seen, in log order, none twice, also across a server restart. Without either the stream starts
at the log's present position; `after=0` replays the caller's whole history. Filters (all
optional): `job_id`, `experiment_id` (each 404 when not the caller's) and `status`, one status
or several separated by commas.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qorch.bootstrap import Service
from qorch.domain.errors import NotFound
from qorch.http import sse
from qorch.http.auth import user_of
from qorch.http.context import query_of, service_of
from qorch.http.errors import ApiError
from qorch.http.schemas import MAX_OFFSET
from qorch.projections import experiments, jobs, status_changes

STREAM_SECONDS = 30.0
Status = Literal["Submitted", "Queued", "Running", "Done", "Error", "Cancelled"]
LAST_EVENT_ID = "Last-Event-ID"


class EventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str | None = Field(None, max_length=200, description="Only this job's changes.")
    experiment_id: str | None = Field(
        None, max_length=200, description="Only changes of this experiment's jobs."
    )
    status: list[Status] | None = Field(
        None, description="Only changes to these statuses, comma-separated (Done,Error)."
    )
    after: int | None = Field(
        None,
        ge=0,
        le=MAX_OFFSET,
        description="Send the changes after this log position (Last-Event-ID wins if sent).",
    )

    @field_validator("status", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return [part.strip() for part in value.split(",")] if isinstance(value, str) else value


def last_event_id(request: Request) -> int | None:
    """The position a reconnecting client saw last; not a position in the log's range: 400."""
    text = request.headers.get(LAST_EVENT_ID)
    if text is None or not text.strip():
        return None
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > MAX_OFFSET:
        message = f"must be a log position, an integer from 0 to {MAX_OFFSET}"
        raise ApiError(400, "invalid_request", message, LAST_EVENT_ID)
    return int(text)


def _owned(service: Service, user_id: str, query: EventsQuery) -> None:
    db = service.views.connection()
    if (
        query.job_id is not None
        and jobs.get_job(db, user_id, query.job_id, with_inputs=False) is None
    ):
        raise NotFound("job", query.job_id)
    if (
        query.experiment_id is not None
        and experiments.get_experiment(db, user_id, query.experiment_id) is None
    ):
        raise NotFound("experiment", query.experiment_id)


def reader(service: Service, user_id: str, query: EventsQuery) -> sse.Read:
    def read(after: int) -> list[sse.Event]:
        changes = status_changes.changes_after(
            service.views.connection(),
            user_id,
            after,
            job_id=query.job_id,
            experiment_id=query.experiment_id,
            statuses=query.status,
        )
        return [(change.position, "job", _data(change.job)) for change in changes]

    return read


def _data(job: dict[str, object]) -> str:
    return json.dumps(job, separators=(",", ":"))


async def events(request: Request) -> Response:
    user = user_of(request)
    service = service_of(request)
    query = query_of(request, EventsQuery)
    after = last_event_id(request)
    if after is None:
        after = query.after
    _owned(service, str(user.id), query)
    if after is None:
        after = service.projector.position
    read = reader(service, str(user.id), query)
    return sse.stream(sse.follow(service.projector, read, after, STREAM_SECONDS))


routes = [Route("/events", events, methods=["GET"])]
