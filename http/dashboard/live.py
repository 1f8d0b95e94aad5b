"""The live stream: server-sent events of the signed-in user's job changes.

Each event's id is the log position of the change (the jobs view's `position`: the latest change
of each job). A browser that reconnects (after a network drop or a server restart) sends
`Last-Event-ID`, and is sent every job of its user that changed after that position, then
follows the projector (see http/sse.py, shared with `GET /events`). A response ends after
STREAM_SECONDS; the browser reconnects at once, resuming from its last id.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from qorch.bootstrap import Service
from qorch.http import sse
from qorch.http.auth import session_of
from qorch.http.context import service_of
from qorch.http.errors import ApiError
from qorch.http.schemas import MAX_OFFSET
from qorch.projections import dashboard

STREAM_SECONDS = 20.0


def _position(text: str | None, name: str) -> int | None:
    """A log position sent back by the browser; past the store's range is refused (400)."""
    try:
        position = max(0, int(text)) if text else None
    except ValueError:
        return None
    if position is not None and position > MAX_OFFSET:
        raise ApiError(400, "invalid_request", f"must be at most {MAX_OFFSET}", name)
    return position


def reader(service: Service, user_id: str) -> sse.Read:
    def read(after: int) -> list[sse.Event]:
        changes = dashboard.changed_jobs(service.views.connection(), user_id, after)
        return [(position, "job", json.dumps(job)) for position, job in changes]

    return read


async def events(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return Response("sign in first", status_code=401)
    service = service_of(request)
    after = _position(request.headers.get("last-event-id"), "Last-Event-ID")
    if after is None:
        after = _position(request.query_params.get("after"), "after")
    if after is None:
        after = service.projector.position
    read = reader(service, session.user_id)
    return sse.stream(sse.follow(service.projector, read, after, STREAM_SECONDS))
