"""A log follower is handed what saves made in its own process recorded without reading the
log again; whatever it may have missed (another process's write in between, saves notified out
of order) it reads, so every event is handed once, in log order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import anyio
import pytest
from eventsourcing.persistence import Notification, StoredEvent

from qorch.adapters.executor.board import JOB_TOPICS
from qorch.adapters.log_follower import LogFollower
from qorch.domain.application import Qorch


class Following:
    """A follower running in a task group, what it was handed, and the log pages it read."""

    def __init__(self, app: Qorch, monkeypatch: pytest.MonkeyPatch, **options: Any) -> None:
        self.app = app
        self.follower = LogFollower(app, poll_interval=60, **options)
        self.handed: list[int] = []
        self.reads = 0
        read = self.follower._read_after

        def counted(position: int) -> Any:
            self.reads += 1
            return read(position)

        monkeypatch.setattr(self.follower, "_read_after", counted)

    def handle(self, page: Sequence[Notification]) -> None:
        self.handed.extend(notification.id for notification in page)

    async def first_look(self) -> int:
        """Waits for the follower's first read of the log; answers the reads so far."""
        with anyio.fail_after(10):
            while not self.reads:
                await anyio.sleep(0.005)
        await anyio.sleep(0.05)  # (and for the handing of what it read)
        return self.reads

    async def until(self, position: int) -> None:
        with anyio.fail_after(10):
            while self.follower.position < position:
                await anyio.sleep(0.005)


def head(app: Qorch) -> int:
    return app.recorder.max_notification_id() or 0


@pytest.mark.anyio
async def test_saves_made_here_are_handed_without_reading_the_log(
    app: Qorch, monkeypatch: pytest.MonkeyPatch
):
    following = Following(app, monkeypatch)
    async with anyio.create_task_group() as tg:
        tg.start_soon(following.follower.follow, 0, following.handle)
        reads = await following.first_look()
        for number in range(5):
            app.register_user(f"user-{number}")
            await following.until(head(app))
        tg.cancel_scope.cancel()
    assert following.handed == list(range(1, head(app) + 1))
    assert following.reads == reads


@pytest.mark.anyio
async def test_a_write_from_elsewhere_in_between_is_read_and_nothing_is_handed_twice(
    app: Qorch, monkeypatch: pytest.MonkeyPatch
):
    following = Following(app, monkeypatch)
    async with anyio.create_task_group() as tg:
        tg.start_soon(following.follower.follow, 0, following.handle)
        app.register_user("ada")
        await following.until(head(app))
        # As another process writes: recorded, but no listener here hears of it.
        app.recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "elsewhere:Event", b"{}")])
        app.register_user("bob")  # follows a position this follower was not handed
        await following.until(head(app))
        tg.cancel_scope.cancel()
    assert following.handed == list(range(1, head(app) + 1))


@pytest.mark.anyio
async def test_a_follower_of_some_topics_passes_over_the_others_saved_here(
    app: Qorch, monkeypatch: pytest.MonkeyPatch
):
    following = Following(app, monkeypatch, topics=JOB_TOPICS)
    async with anyio.create_task_group() as tg:
        tg.start_soon(following.follower.follow, 0, following.handle)
        reads = await following.first_look()
        for number in range(3):
            app.register_user(f"user-{number}")  # no job's events
        await following.until(head(app))
        tg.cancel_scope.cancel()
    assert following.handed == []
    assert following.reads == reads
