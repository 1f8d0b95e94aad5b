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
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID, SafeUUID

import anyio
from eventsourcing.persistence import Notification
from eventsourcing.sqlite import SQLiteApplicationRecorder

from qorch.adapters.store import SQLiteEventStore
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
        self._saved: queue.SimpleQueue[Notification] = queue.SimpleQueue()
        """What saves made in this process recorded (`_take_saved`)."""

    async def follow(self, position: int, handle: Handler) -> None:
        """Hands every notification after `position` to `handle`, in order, forever."""
        self.position = position
        self.wakeup.bind()
        self.app.listeners.append(self._heard)
        subscriber = _Subscriber(self) if self.subscribe else None
        try:
            while True:
                pushed = self._take_received()
                saved = self._take_saved() if pushed is None else None
                if saved is not None:  # what saves made here recorded, after the position
                    run, head, more = saved
                    if run:
                        await self._hand(run, handle)
                    self.position = max(self.position, head)
                    if more:
                        continue  # read
                elif pushed is None:  # nothing pushed: read the log itself
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
            self.app.listeners.remove(self._heard)
            if subscriber is not None:
                subscriber.stop()

    def _heard(self, notifications: Sequence[Notification]) -> None:
        """A save made in this process (any thread) recorded `notifications`."""
        for notification in notifications:
            self._saved.put(notification)
        self.wakeup.set()

    def _take_saved(self) -> tuple[list[Notification], int, bool] | None:
        """What saves made here recorded right after the position, without reading the log:
        the page of this follower's topics, the position it reaches, and whether more was
        recorded after it (to be read). None when they do not follow on from the position
        (another process wrote in between, or saves in other threads notified out of order):
        the log is read instead."""
        saved = []
        while True:
            try:
                saved.append(self._saved.get_nowait())
            except queue.Empty:
                break
        saved.sort(key=lambda notification: notification.id)
        run: list[Notification] = []
        position = self.position
        for notification in saved:
            if notification.id <= position:
                continue  # read already
            if notification.id != position + 1 or len(run) == self.page_size:
                break
            run.append(notification)
            position = notification.id
        if not run:
            return None
        more = saved[-1].id > position
        if self.topics:
            return [n for n in run if n.topic in self.topics], position, more
        return run, position, more

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
        if not self.topics:
            page = notifications_after(self.app, position, self.page_size)
            return page, 0
        # Read first, so that the page holds every event up to it (see the module docstring).
        head = recorder.max_notification_id() or 0
        page = recorder.select_notifications(
            start=position,
            limit=self.page_size,
            stop=head or None,
            topics=self.topics,
            inclusive_of_start=False,
        )
        return page, head if len(page) < self.page_size else 0


def notifications_after(app: Qorch, position: int, limit: int) -> Sequence[Notification]:
    """What `app.recorder.select_notifications(position, limit, inclusive_of_start=False)`
    answers. The library's SQLite recorder makes each row a `sqlite3.Row`, reads its fields by
    name and builds each notification a field at a time: about a third of the time reading a
    log takes, and a replay reads all of it. Its rows are read here with a plain cursor."""
    recorder = app.recorder
    if not _plain(recorder):
        return recorder.select_notifications(position, limit, inclusive_of_start=False)
    assert isinstance(recorder, SQLiteApplicationRecorder)
    reads = recorder._reads if isinstance(recorder, SQLiteEventStore) else recorder
    with reads.datastore.transaction(commit=False) as cursor:
        cursor.sqlite_cursor.row_factory = None
        cursor.execute(_page_select(recorder), (position, limit))
        return [_notification(*row) for row in cursor.fetchall()]


PageReader = Callable[[int, int], list[Notification]]


def pages_for_a_fork(app: Qorch) -> Callable[[], PageReader] | None:
    """What a process forked from this one (which must not use this one's connections) calls to
    read the log as `notifications_after` does, on a connection of its own; None where the log
    is not a SQLite file."""
    recorder = app.recorder
    if not _plain(recorder) or recorder.datastore.pool.is_sqlite_memory_mode:  # type: ignore[attr-defined]
        return None
    path: str = recorder.datastore.pool.db_name  # type: ignore[attr-defined]
    select = _page_select(recorder)  # type: ignore[arg-type]

    def open_pages() -> PageReader:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA query_only=ON")

        def page(position: int, limit: int) -> list[Notification]:
            rows = connection.execute(select, (position, limit)).fetchall()
            return [_notification(*row) for row in rows]

        return page

    return open_pages


def _plain(recorder: object) -> bool:
    """Whether the recorder's pages are the events table's rows as they are, ids as UUIDs."""
    return (
        getattr(type(recorder), "select_notifications", None) in PLAIN_PAGES
        and recorder.datastore.originator_id_type == "uuid"  # type: ignore[attr-defined]
    )


def _page_select(recorder: SQLiteApplicationRecorder) -> str:
    return (
        "SELECT rowid, originator_id, originator_version, topic, state"
        f" FROM {recorder.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )


PLAIN_PAGES = (
    SQLiteApplicationRecorder.select_notifications,
    SQLiteEventStore.select_notifications,
)
"""The recorders' page reads that read the events table as it is (no filter of their own)."""


def _notification(
    position: int, originator_id: str, version: int, topic: str, state: bytes
) -> Notification:
    notification = object.__new__(Notification)  # frozen: its fields are set as one dict
    fields = {"originator_id": _uuid(originator_id), "originator_version": version}
    fields.update(topic=topic, state=state, id=position)
    object.__setattr__(notification, "__dict__", fields)
    return notification


def _uuid(text: str) -> UUID:
    try:
        return uuid_from_hex(text.replace("-", ""))
    except ValueError:
        return UUID(text)  # braces, a urn: prefix, or no UUID (the library's own error)


def uuid_from_hex(data: str) -> UUID:
    """`UUID(data)` for 32 hex digits, without parsing them twice."""
    if type(data) is not str or len(data) != 32:
        raise ValueError("not a UUID's hex digits")
    number = int(data, 16)
    if number < 0:
        raise ValueError("not a UUID's hex digits")
    uuid = object.__new__(UUID)
    object.__setattr__(uuid, "int", number)
    object.__setattr__(uuid, "is_safe", UNKNOWN)
    return uuid


UNKNOWN = SafeUUID.unknown  # (an enum's member read from its class costs as much as the rest)


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
