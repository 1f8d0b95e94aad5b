"""Follows the application's event log from a tracked position.

SQLite cannot push notifications to other processes, so the log is polled; writes made in this
process wake the follower at once through the application's listeners, so a poll interval only
bounds the latency of writes made by *other* processes.

On PostgreSQL the library's subscription (LISTEN/NOTIFY) runs in a thread and feeds the
follower the notifications recorded by any process. A NOTIFY can be lost (a dropped listening
connection, a restart of the server), so the follower also reads the log itself: at once after a
write in this process, and every `catch_up_interval` (poll_interval * 10) otherwise. Both sources
deliver notifications in id order (the library serialises inserts with a table lock), and only
notifications after the follower's position are handed on, so overlaps are harmless. When the
subscription fails it is started again, after a pause, from the follower's position.

A follower of some topics moves its position past the events of other topics too (to the log's
head as read just before a page that came back short): otherwise every read would scan again
whatever was recorded since the last event of its topics. That is safe because an id is never
visible before a lower one, for the same reasons (one writer on SQLite, the table lock on
PostgreSQL): every event up to the head read is in the page read after it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import queue
import threading
from collections.abc import Awaitable, Callable, Sequence

import anyio
from eventsourcing.persistence import Notification

from qorch.domain.application import Qorch

log = logging.getLogger("qorch.follower")

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
        self,
        app: Qorch,
        *,
        poll_interval: float,
        page_size: int = 1000,
        topics: Sequence[str] = (),
        subscribe: bool | None = None,
    ) -> None:
        self.app = app
        self.poll_interval = poll_interval
        self.page_size = page_size
        self.topics = list(topics)
        self.wakeup = Wakeup()
        self.subscribe = supports_subscription(app) if subscribe is None else subscribe
        self.catch_up_interval = max(poll_interval * 10, 0.5)
        self.position = 0
        # (the position the producing subscription started after, notification)
        self._received: queue.SimpleQueue[tuple[int, Notification]] = queue.SimpleQueue()

    async def follow(self, position: int, handle: Handler) -> None:
        """Hands every notification after `position` to `handle`, in order, forever."""
        self.position = position
        self.wakeup.bind()
        self.app.listeners.append(self.wakeup.set)
        subscriber = _Subscriber(self) if self.subscribe else None
        try:
            while True:
                pushed = self._take_received()
                if pushed is None:  # nothing pushed: read the log itself
                    page, head = await anyio.to_thread.run_sync(self._read_after, self.position)
                    if page:
                        await self._hand(page, handle)
                        if len(page) == self.page_size:
                            continue
                    self.position = max(self.position, head)
                elif pushed:
                    await self._hand(pushed, handle)
                    continue
                await self.wakeup.wait(self.catch_up_interval if subscriber else self.poll_interval)
        finally:
            self.app.listeners.remove(self.wakeup.set)
            if subscriber is not None:
                subscriber.stop()

    async def _hand(self, page: Sequence[Notification], handle: Handler) -> None:
        result = handle(page)
        if inspect.isawaitable(result):
            await result
        self.position = page[-1].id

    def _take_received(self) -> list[Notification] | None:
        """Notifications pushed by the subscription that follow the position, in order; None
        when nothing was pushed, or when a pushed one may lie beyond a gap (then read)."""
        page: list[Notification] = []
        position = self.position
        taken = False
        while len(page) < self.page_size:
            try:
                started_after, notification = self._received.get_nowait()
            except queue.Empty:
                break
            taken = True
            if started_after > position:
                return None  # its subscription started past us: read up to it first
            if notification.id > position:
                page.append(notification)
                position = notification.id
        return page if taken else None

    def _read_after(self, position: int) -> tuple[Sequence[Notification], int]:
        """The next page after `position`, and the position that a short page lets the
        follower pass over to: with topics, the log's head when the page was read."""
        recorder = self.app.recorder
        # Read first, so that the page holds every event up to it (see the module docstring).
        head = (recorder.max_notification_id() or 0) if self.topics else 0
        page = recorder.select_notifications(
            start=position,
            limit=self.page_size,
            stop=head or None,
            topics=self.topics,
            inclusive_of_start=False,
        )
        return page, head if len(page) < self.page_size else 0


def supports_subscription(app: Qorch) -> bool:
    try:
        from eventsourcing.postgres import PostgresApplicationRecorder
    except ImportError:
        return False
    return isinstance(app.recorder, PostgresApplicationRecorder)


class _Subscriber:
    """Runs the recorder's subscription in a thread, restarting it after failures."""

    RETRY_SECONDS = 1.0

    def __init__(self, follower: LogFollower) -> None:
        self.follower = follower
        self._stopped = threading.Event()
        self._subscription: object | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="qorch-subscription", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        follower = self.follower
        while not self._stopped.is_set():
            try:
                # Only what is recorded from now on: the follower reads any backlog itself.
                latest = follower.app.recorder.max_notification_id() or 0
                started_after = max(follower.position, latest)
                subscription = follower.app.recorder.subscribe(
                    gt=started_after, topics=follower.topics
                )
                with self._lock:
                    if self._stopped.is_set():
                        subscription.stop()
                    self._subscription = subscription
                with subscription:
                    for notification in subscription:
                        follower._received.put((started_after, notification))
                        follower.wakeup.set()
            except Exception:
                if not self._stopped.is_set():
                    log.warning("log subscription failed; polling until it restarts", exc_info=True)
            self._stopped.wait(self.RETRY_SECONDS)

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            subscription = self._subscription
        if subscription is not None:
            subscription.stop()  # type: ignore[attr-defined]
