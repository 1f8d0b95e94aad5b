"""The live stream: server-sent events of the signed-in user's job changes.

Each event's id is the log position of the change. A browser that reconnects (after a network
drop or a server restart) sends `Last-Event-ID`, and is sent every job of its user that changed
after that position, then follows the projector. A response ends after STREAM_SECONDS (the
browser reconnects at once, resuming from its last id) so that a server shutdown never waits on
an open dashboard for long.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from qorch.bootstrap import Service
from qorch.http.auth import session_of
from qorch.http.context import service_of
from qorch.http.errors import ApiError
from qorch.http.schemas import MAX_OFFSET
from qorch.projections import dashboard

STREAM_SECONDS = 20.0
KEEPALIVE_SECONDS = 10.0
RETRY_MILLISECONDS = 1000


def _position(text: str | None, name: str) -> int | None:
    """A log position sent back by the browser; past the store's range is refused (400)."""
    try:
        position = max(0, int(text)) if text else None
    except ValueError:
        return None
    if position is not None and position > MAX_OFFSET:
        raise ApiError(400, "invalid_request", f"must be at most {MAX_OFFSET}", name)
    return position


def _changed(service: Service, user_id: str, after: int) -> list[tuple[int, dict[str, Any]]]:
    return dashboard.changed_jobs(service.views.connection(), user_id, after)


async def job_changes(service: Service, user_id: str, after: int) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    deadline = time.monotonic() + STREAM_SECONDS
    while True:
        changes = await anyio.to_thread.run_sync(_changed, service, user_id, after)
        for position, job in changes:
            after = position
            yield f"id: {position}\nevent: job\ndata: {json.dumps(job)}\n\n"
        if changes:
            continue  # there may be more
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        yield ": keep-alive\n\n"
        await service.projector.wait_for_change(min(remaining, KEEPALIVE_SECONDS))


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
    return StreamingResponse(
        job_changes(service, session.user_id, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
