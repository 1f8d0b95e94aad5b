"""Server-sent events of a read model that follows the log, shared by `/events` (API clients)
and `/dashboard/events` (the dashboard).

Each event's id is a log position, so a client that reconnects (after a network drop or a server
restart) sends `Last-Event-ID` and is sent what changed after it, then follows the projector. A
response ends after `seconds` (the client reconnects at once, resuming from its last id), and
sse-starlette ends it at once when the server shuts down, so that shutdown never waits on an open
stream; a client that stops reading is dropped after SEND_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent

from qorch.projections.projector import Projector

KEEPALIVE_SECONDS = 10.0
RETRY_MILLISECONDS = 1000
SEND_TIMEOUT_SECONDS = 30.0
Event = tuple[int, str, str]
"""A log position (the event's id), the event's name, its data (one line of JSON)."""
Read = Callable[[int], Sequence[Event]]
"""The events after a log position, oldest first (a page; read again until empty). Called in
a worker thread: it reads the views' database."""


async def follow(
    projector: Projector, read: Read, after: int, seconds: float
) -> AsyncIterator[ServerSentEvent]:
    """The events `read` answers after `after`, then those that follow, for `seconds`."""
    yield ServerSentEvent(retry=RETRY_MILLISECONDS)
    deadline = time.monotonic() + seconds
    while True:
        seen = projector.position
        events = await anyio.to_thread.run_sync(read, after)
        for position, name, data in events:
            after = position
            yield ServerSentEvent(data, event=name, id=str(position))
        if events:
            continue  # there may be more
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        yield ServerSentEvent(comment="keep-alive")
        if projector.position != seen:
            continue  # the views moved on since they were read: read again before waiting
        # No await since the comparison: a change applied from here on wakes this wait.
        await projector.wait_for_change(min(remaining, KEEPALIVE_SECONDS))


def stream(events: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    return EventSourceResponse(
        events,
        headers={"Cache-Control": "no-store"},
        ping=0,  # `follow` sends its own keep-alives, between reads
        sep="\n",
        send_timeout=SEND_TIMEOUT_SECONDS,
    )
