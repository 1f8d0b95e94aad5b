"""Follows the application's event log from a tracked position.

SQLite cannot push notifications to other processes, so the log is polled; writes made in this
process wake the follower at once through the application's listeners, so a poll interval only
bounds the latency of writes made by *other* processes.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence

import anyio
from eventsourcing.persistence import Notification

from qorch.domain.application import Qorch

Handler = Callable[[Sequence[Notification]], None | Awaitable[None]]


class Wakeup:
    """An event that any thread may set; the loop side waits on it with a timeout."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def set(self, *_: object) -> None:
        loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout: float) -> None:
        assert self._event is not None, "bind() first"
        with anyio.move_on_after(timeout):
            await self._event.wait()
        self._event.clear()


class LogFollower:
    def __init__(
        self, app: Qorch, *, poll_interval: float, page_size: int = 1000, topics: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.poll_interval = poll_interval
        self.page_size = page_size
        self.topics = list(topics)
        self.wakeup = Wakeup()

    async def follow(self, position: int, handle: Handler) -> None:
        """Hands every notification after `position` to `handle`, in order, forever."""
        self.wakeup.bind()
        self.app.listeners.append(self.wakeup.set)
        try:
            while True:
                page = await anyio.to_thread.run_sync(self._read_after, position)
                if page:
                    result = handle(page)
                    if inspect.isawaitable(result):
                        await result
                    position = page[-1].id
                    if len(page) == self.page_size:
                        continue
                await self.wakeup.wait(self.poll_interval)
        finally:
            self.app.listeners.remove(self.wakeup.set)

    def _read_after(self, position: int) -> Sequence[Notification]:
        return self.app.recorder.select_notifications(
            start=position, limit=self.page_size, topics=self.topics, inclusive_of_start=False
        )
