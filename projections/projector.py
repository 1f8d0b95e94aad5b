"""Applies the event log to the read models, with the tracked position in the same transaction.

`project` is what one event changes in the views, made in a `Batch` (documents changed in
memory, written once when the batch is flushed). `Views` is the read models in the shape of
eventsourcing's `Projection`: `process_event(event, tracking)` over a `TrackingRecorder` (the
view database). The `Projector` applies the batches the log follower hands it, one SQLite
transaction and one `Batch` each, and tracks the position once a batch. When one event cannot be
read, it is set aside; when one cannot be applied, the batch is undone and applied again an
event at a time, each in a savepoint, so that only that event is set aside.
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

from qorch.adapters.log_follower import LogFollower, notifications_after
from qorch.domain.application import Qorch
from qorch.projections import circuits, dashboard, experiments, jobs, sdk_jobs, status_changes
from qorch.projections.batch import Batch, Handlers
from qorch.projections.database import ViewDatabase
from qorch.projections.reading import EventReader

log = logging.getLogger("qorch.projector")
HANDLERS: Handlers = {
    **experiments.HANDLERS,
    **circuits.HANDLERS,
    **jobs.HANDLERS,
    **sdk_jobs.HANDLERS,
}
READ_AHEAD = 64
Unread = list[tuple[Notification, Exception]]
"""Notifications whose events could not be read or applied, and why: set aside."""


def project(event: Any, position: int, batch: Batch) -> None:
    """Changes in `batch` what the event at log position `position` changes in the views (events
    no view needs change nothing)."""
    handler = HANDLERS.get(type(event))
    if handler is not None:
        handler(event, batch)
        dashboard.track(event, position, batch)
        status_changes.track(event, position, batch)


class Views(Projection[ViewDatabase]):
    name = "views"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Updates the views the event concerns and records its position, in the view
        database's open transaction."""
        batch = Batch(self.view.connection())
        project(domain_event, tracking.notification_id, batch)
        batch.flush()
        self.view.insert_tracking(tracking)


class Projector:
    def __init__(self, app: Qorch, views: ViewDatabase) -> None:
        self.app = app
        self.views = views
        self.reader = EventReader(app.mapper)
        self.position = views.max_tracking_id(app.name) or 0
        self._changed = anyio.Event()

    def apply(self, notifications: Sequence[Notification]) -> int:
        """Applies notifications not yet reflected in the views; returns the new position."""
        with self.views.writing() as db:
            position = self.views.max_tracking_id(self.app.name) or 0
            fresh = [notification for notification in notifications if notification.id > position]
            if not fresh:
                return position
            db.execute("SAVEPOINT batch")
            try:
                unreadable = self._apply_batch(db, fresh)
            except sqlite3.OperationalError:
                raise  # the views' database itself (locked, full): retried, never set aside
            except Exception:
                # One event cannot be applied: the batch is undone and applied an event at a
                # time, so that only that one is set aside.
                db.execute("ROLLBACK TO batch")
                unreadable = self._apply_one_by_one(db, fresh)
            for notification, error in unreadable:
                set_aside(db, notification, error)
            db.execute("RELEASE batch")
            self.views.insert_tracking(Tracking(self.app.name, fresh[-1].id))
        return fresh[-1].id

    def _apply_batch(self, db: sqlite3.Connection, notifications: list[Notification]) -> Unread:
        """Applies the events as one batch; answers those that could not be read. Events are
        read READ_AHEAD at a time, then applied: a replay takes 6% less time than with each
        read just before it is applied (the decoder's code and the views' take turns less
        often, so each stays in the CPU's caches), and the batch still holds documents rather
        than a page of events."""
        batch = Batch(db)
        unreadable: Unread = []
        to_domain_event = self.reader.to_domain_event
        for start in range(0, len(notifications), READ_AHEAD):
            events = []
            for notification in notifications[start : start + READ_AHEAD]:
                try:
                    events.append((to_domain_event(notification), notification.id))
                except Exception as error:
                    unreadable.append((notification, error))
            for event, position in events:
                project(event, position, batch)
        batch.flush()
        return unreadable

    def _apply_one_by_one(
        self, db: sqlite3.Connection, notifications: list[Notification]
    ) -> Unread:
        """Applies each event alone, in a savepoint; answers those that could not be read or
        applied (rolled back)."""
        unapplied: Unread = []
        for notification in notifications:
            db.execute("SAVEPOINT event")
            try:
                batch = Batch(db)
                project(self.reader.to_domain_event(notification), notification.id, batch)
                batch.flush()
            except sqlite3.OperationalError:
                raise
            except Exception as error:
                db.execute("ROLLBACK TO event")
                unapplied.append((notification, error))
            db.execute("RELEASE event")
        return unapplied

    def rebuild(self, page_size: int = 5000) -> int:
        """Applies the whole log from the start (for an empty view database)."""
        while True:
            page = notifications_after(self.app, self.position, page_size)
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
