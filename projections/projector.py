"""Applies the event log to the read models, with the tracked position in the same transaction."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from eventsourcing.persistence import Notification

from qorch.domain.application import Qorch
from qorch.projections import circuits, dashboard, experiments, jobs, sdk_jobs
from qorch.projections.database import ViewDatabase
from qorch.projections.follower import LogFollower

log = logging.getLogger("qorch.projector")
TRACKING_NAME = "views"
HANDLERS: dict[type, Callable[[Any, Any], None]] = {
    **experiments.HANDLERS,
    **circuits.HANDLERS,
    **jobs.HANDLERS,
    **sdk_jobs.HANDLERS,
}


class Projector:
    def __init__(self, app: Qorch, views: ViewDatabase) -> None:
        self.app = app
        self.views = views
        self.position = views.position(TRACKING_NAME)
        self._changed = anyio.Event()

    def apply(self, notifications: Sequence[Notification]) -> int:
        """Applies notifications not yet reflected in the views; returns the new position."""
        with self.views.writing() as db:
            position = _tracked_position(db)
            for notification in notifications:
                if notification.id <= position:
                    continue
                db.execute("SAVEPOINT event")
                try:
                    self._apply_one(notification, db)
                except sqlite3.OperationalError:
                    raise  # the views' database itself (locked, full): retried, never set aside
                except Exception as error:
                    # One event that cannot be read or applied must not stop every view.
                    db.execute("ROLLBACK TO event")
                    set_aside(db, notification, error)
                db.execute("RELEASE event")
                position = notification.id
            db.execute(
                "INSERT INTO tracking (name, position) VALUES (?, ?) ON CONFLICT (name)"
                " DO UPDATE SET position = excluded.position",
                (TRACKING_NAME, position),
            )
        return position

    def _apply_one(self, notification: Notification, db: Any) -> None:
        event = self.app.mapper.to_domain_event(notification)
        handler = HANDLERS.get(type(event))
        if handler is not None:
            handler(event, db)
            dashboard.track(event, notification.id, db)

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


def _tracked_position(db: Any) -> int:
    row = db.execute("SELECT position FROM tracking WHERE name = ?", (TRACKING_NAME,)).fetchone()
    return int(row[0]) if row else 0
