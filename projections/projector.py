"""Applies the event log to the read models, with the tracked position in the same transaction.

`Views` is the read models in the shape of eventsourcing's `Projection`: `process_event(event,
tracking)` over a `TrackingRecorder` (the view database). The `Projector` feeds it batches from
the log follower, one SQLite transaction a batch and a savepoint an event, so a batch costs one
commit and one event that cannot be applied is set aside without losing the others.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import anyio
from eventsourcing.persistence import Notification, Tracking
from eventsourcing.projection import Projection

from qorch.adapters.log_follower import LogFollower
from qorch.domain.application import Qorch
from qorch.projections import circuits, dashboard, experiments, jobs, sdk_jobs
from qorch.projections.database import Handlers, ViewDatabase

log = logging.getLogger("qorch.projector")
HANDLERS: Handlers = {
    **experiments.HANDLERS,
    **circuits.HANDLERS,
    **jobs.HANDLERS,
    **sdk_jobs.HANDLERS,
}


class Views(Projection[ViewDatabase]):
    name = "views"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Updates the views the event concerns and records its position, in the view
        database's open transaction (events no view needs are only tracked)."""
        handler = HANDLERS.get(type(domain_event))
        if handler is not None:
            db = self.view.connection()
            handler(domain_event, db)
            dashboard.track(domain_event, tracking.notification_id, db)
        self.view.insert_tracking(tracking)


class Projector:
    def __init__(self, app: Qorch, views: ViewDatabase) -> None:
        self.app = app
        self.views = views
        self.projection = Views(views)
        self.position = views.max_tracking_id(app.name) or 0
        self._changed = anyio.Event()

    def apply(self, notifications: Sequence[Notification]) -> int:
        """Applies notifications not yet reflected in the views; returns the new position."""
        with self.views.writing() as db:
            position = self.views.max_tracking_id(self.app.name) or 0
            for notification in notifications:
                if notification.id <= position:
                    continue
                tracking = Tracking(self.app.name, notification.id)
                db.execute("SAVEPOINT event")
                try:
                    event = self.app.mapper.to_domain_event(notification)
                    self.projection.process_event(event, tracking)
                except sqlite3.OperationalError:
                    raise  # the views' database itself (locked, full): retried, never set aside
                except Exception as error:
                    # One event that cannot be read or applied must not stop every view.
                    db.execute("ROLLBACK TO event")
                    set_aside(db, notification, error)
                    self.views.insert_tracking(tracking)
                db.execute("RELEASE event")
                position = notification.id
        return position

    def rebuild(self, page_size: int = 5000) -> int:
        """Applies the whole log from the start (for an empty view database)."""
        while True:
            page = self.app.recorder.select_notifications(
                start=self.position, limit=page_size, inclusive_of_start=False
            )
            if not page:
                return self.position
            self.position = self.apply(page)

    async def run(self, poll_interval: float) -> None:
        follower = LogFollower(self.app, poll_interval=poll_interval)
        await follower.follow(self.position, self._apply_async)

    async def _apply_async(self, notifications: Sequence[Notification]) -> None:
        self.position = await anyio.to_thread.run_sync(self.apply, notifications)
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    async def wait_for_position(self, position: int, timeout: float = 10.0) -> bool:
        """Waits until the views reflect the log up to `position` (read-your-writes)."""
        deadline = time.monotonic() + timeout
        while self.position < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with anyio.move_on_after(remaining):
                await self._changed.wait()
        return True

    async def wait_for_change(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._changed.wait()


def set_aside(db: Any, notification: Notification, error: Exception) -> None:
    log.error(
        "event at log position %d (%s of %s) cannot be applied and was set aside: %s",
        notification.id,
        notification.topic,
        notification.originator_id,
        error,
    )
    db.execute(
        "INSERT OR REPLACE INTO set_aside (position, originator_id, topic, error)"
        " VALUES (?, ?, ?, ?)",
        (
            notification.id,
            str(notification.originator_id),
            notification.topic,
            f"{type(error).__name__}: {error}"[:2000],
        ),
    )


def set_aside_events(db: Any) -> list[dict[str, Any]]:
    """The events no view reflects, for operators (`/health` reports them)."""
    rows = db.execute("SELECT position, originator_id, topic, error FROM set_aside ORDER BY 1")
    return [
        dict(zip(("position", "originator_id", "topic", "error"), row, strict=True)) for row in rows
    ]
