"""The deliverer: follows the log, opens a delivery for each job status change an endpoint or a
run's callback wants, and sends the deliveries that are due. It runs beside each executor
(`qorch serve`, `qorch worker`); any number may share a log.

- **From the log, with a tracked position.** It knows the endpoints and open callbacks as of
  its position; both, with the position, are kept in the store (tables.py) every few seconds
  and at shutdown, so a restart follows the log from there. A job change at position p is
  pushed to the endpoints registered before p (the log's order says which).
- **Exactly one record per delivery.** A Delivery's id is derived from (endpoint, p), and it is
  saved with optimistic concurrency: deliverers that follow the same log open it once between
  them, and one opened again after a restart is left as it is.
- **One sender at a time, at least once.** An attempt first records `AttemptStarted` with a
  lease (a race on the Delivery's version lets one process win), then sends, then records the
  outcome. A process killed in between leaves the lease: the attempt is made again, under the
  same `webhook-id`, once the lease lapses (at once after a restart on the same host).
- **Durable backoff.** The next attempt's time is recorded in `AttemptFailed`, and the
  deliveries not yet made are read back from the deliveries table at start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any
from uuid import UUID

import anyio
import anyio.abc
import anyio.to_thread
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from qorch.adapters.executor.workers import claimant_is_dead, new_worker_id
from qorch.adapters.log_follower import LogFollower, Wakeup
from qorch.adapters.webhooks.sender import Sender
from qorch.adapters.webhooks.tables import WebhookTables, tables_for
from qorch.domain.application import Qorch
from qorch.domain.job import STATUS_AFTER, Job
from qorch.domain.webhook import (
    CALLBACK,
    ENDPOINT,
    EVENT_TYPES,
    Backoff,
    Callback,
    Delivery,
    Webhooks,
)
from qorch.domain.webhook_commands import Attempt, Later
from qorch.domain.webhook_payload import encoded, job_change

log = logging.getLogger("qorch.webhooks")

DELIVERY_EVENTS = (
    Delivery.Opened,
    Delivery.AttemptStarted,
    Delivery.Succeeded,
    Delivery.AttemptFailed,
    Delivery.GaveUp,
)
FOLLOWED: tuple[type, ...] = (
    *STATUS_AFTER,
    Webhooks.Registered,
    Webhooks.Removed,
    Callback.Registered,
    *DELIVERY_EVENTS,
)
TOPICS = [get_topic(cls) for cls in FOLLOWED]
JOB_TOPICS = frozenset(get_topic(cls) for cls in STATUS_AFTER)
EVERY_SECONDS = 5.0
RESTART_SECONDS = 5.0
OWNERS_KEPT = 50_000

Due = dict[UUID, float | None]
"""Deliveries whose next attempt time changed (None: ended)."""


@dataclass(eq=False, repr=False)
class Deliverer:
    app: Qorch
    sender: Sender
    _: KW_ONLY
    poll_interval: float
    backoff: Backoff
    lease_seconds: float = 60.0
    max_in_flight: int = 16
    every: float = EVERY_SECONDS

    def __post_init__(self) -> None:
        self.worker_id = new_worker_id()
        self.tables: WebhookTables | None = tables_for(self.app.recorder)
        self.follower = LogFollower(self.app, poll_interval=self.poll_interval, topics=TOPICS)
        self.endpoints: dict[str, dict[str, dict[str, Any]]] = {}
        """By Webhooks aggregate id (one per user): endpoint id -> {url, events}."""
        self.callbacks: dict[str, dict[str, str]] = {}
        """By job id, until the job ends: {id, url}."""
        self.owners: dict[UUID, UUID] = {}
        self.due: dict[UUID, float] = {}
        self.sending: set[UUID] = set()
        self.user_of: dict[UUID, str] = {}
        """The user of each due delivery: one user's slow receivers never hold every slot."""
        self.per_user = max(1, self.max_in_flight // 4)
        self.wakeup = Wakeup()
        self._lock = threading.Lock()  # what is known, between the follower's thread and saves

    async def run(self) -> None:
        """Delivers until cancelled; a failure (the store went away) starts it again, from the
        last position kept, after a pause."""
        if self.tables is None:
            log.warning("webhooks are not delivered: this event store keeps no tables")
            return
        while True:
            try:
                await self._run_once(self.tables)
            except Exception:
                log.exception("the webhook deliverer failed; starting again")
            await anyio.sleep(RESTART_SECONDS)

    async def _run_once(self, tables: WebhookTables) -> None:
        position = await anyio.to_thread.run_sync(self._restore, tables)
        self.wakeup.bind()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.follower.follow, position, self._track)
                tg.start_soon(self._keep_position, tables)
                await self._send_forever(tg)
        finally:
            with anyio.CancelScope(shield=True):
                await self._save_position(tables)

    # --- following the log ---

    def _restore(self, tables: WebhookTables) -> int:
        kept = tables.load()
        position, state = kept if kept is not None else (0, {})
        with self._lock:
            self.endpoints = state.get("endpoints", {})
            self.callbacks = state.get("callbacks", {})
        unfinished = tables.unfinished()
        self.due = {UUID(found): at for found, at, _ in unfinished}
        self.user_of = {UUID(found): user for found, _, user in unfinished}
        log.info("webhooks: resuming at log position %d (%d due)", position, len(self.due))
        return position

    async def _track(self, notifications: Sequence[Notification]) -> None:
        changed = await anyio.to_thread.run_sync(self._apply, notifications)
        for delivery_id, at in changed.items():
            if at is None:
                self.due.pop(delivery_id, None)
                self.user_of.pop(delivery_id, None)
            else:
                self.due[delivery_id] = at
        if changed:
            self.wakeup.set()

    def _apply(self, notifications: Sequence[Notification]) -> Due:
        opened: list[Delivery] = []
        deliveries: list[Delivery.Event] = []
        changed: Due = {}
        with self._lock:
            for notification in notifications:
                if self._unwanted(notification):
                    continue
                try:
                    event: Any = self.app.mapper.to_domain_event(notification)
                    if isinstance(event, Delivery.Event):
                        if isinstance(event, Delivery.Opened):
                            self.user_of[event.originator_id] = str(event.user_id)
                        deliveries.append(event)
                        changed[event.originator_id] = _due_after(event)
                    else:
                        opened.extend(self._learn(event, notification.id))
                except Exception:  # one unreadable event never stops the others' deliveries
                    log.exception("webhooks: log event %d skipped", notification.id)
        if opened:
            self.app.open_deliveries(opened)
        if deliveries:
            assert self.tables is not None
            self.tables.apply(deliveries)
        return changed

    def _unwanted(self, notification: Notification) -> bool:
        """A job's change that nobody wants pushed, told without decoding it (a job's results
        can be megabytes): no callback, and its owner, if known, has no endpoint."""
        if notification.topic not in JOB_TOPICS:
            return False
        job_id = notification.originator_id
        if str(job_id) in self.callbacks:
            return False
        if not self.endpoints:
            return True
        owner = self.owners.get(UUID(str(job_id)))
        return owner is not None and not self.endpoints.get(str(Webhooks.create_id(owner)))

    def _learn(self, event: Any, position: int) -> list[Delivery]:
        if isinstance(event, Webhooks.Registered):
            endpoints = self.endpoints.setdefault(str(event.originator_id), {})
            endpoints[str(event.webhook_id)] = {"url": event.url, "events": list(event.events)}
        elif isinstance(event, Webhooks.Removed):
            self.endpoints.get(str(event.originator_id), {}).pop(str(event.webhook_id), None)
        elif isinstance(event, Callback.Registered):
            self.callbacks[str(event.job_id)] = {"id": str(event.originator_id), "url": event.url}
        elif type(event) in STATUS_AFTER:
            return self._open_for(event, position)
        return []

    def _open_for(self, change: Any, position: int) -> list[Delivery]:
        """The deliveries of a job's status change (the event at `position`)."""
        job_id: UUID = change.originator_id
        status = STATUS_AFTER[type(change)]
        if isinstance(change, Job.Submitted):
            self._remember_owner(job_id, change.user_id)
        callback = (
            self.callbacks.pop(str(job_id), None)
            if status.is_final
            else self.callbacks.get(str(job_id))
        )
        if not self.endpoints and callback is None:
            return []
        user_id = self._owner(job_id)
        kind = EVENT_TYPES[status]
        endpoints = self.endpoints.get(str(Webhooks.create_id(user_id)), {})
        targets = [
            (UUID(endpoint_id), ENDPOINT, endpoint["url"])
            for endpoint_id, endpoint in endpoints.items()
            if kind in endpoint["events"]
        ]
        if callback is not None:
            targets.append((UUID(callback["id"]), CALLBACK, callback["url"]))
        if not targets:
            return []
        job: Job = self.app.repository.get(job_id, version=change.originator_version)
        body, now = encoded(job_change(job, change)), time.time()
        return [
            Delivery(
                endpoint_id=endpoint_id,
                kind=target_kind,
                user_id=user_id,
                job_id=job_id,
                position=position,
                url=url,
                event_type=kind,
                payload_json=body,
                created_at=now,
            )
            for endpoint_id, target_kind, url in targets
        ]

    def _remember_owner(self, job_id: UUID, user_id: UUID) -> None:
        if len(self.owners) >= OWNERS_KEPT:
            self.owners.pop(next(iter(self.owners)))
        self.owners[job_id] = user_id

    def _owner(self, job_id: UUID) -> UUID:
        found = self.owners.get(job_id)
        if found is None:
            [first] = self.app.recorder.select_events(job_id, limit=1)
            submitted: Any = self.app.mapper.to_domain_event(first)
            found = submitted.user_id
            self._remember_owner(job_id, submitted.user_id)
        return found

    async def _keep_position(self, tables: WebhookTables) -> None:
        while True:
            await anyio.sleep(self.every)
            await self._save_position(tables)

    async def _save_position(self, tables: WebhookTables) -> None:
        try:
            await anyio.to_thread.run_sync(self._write_position, tables)
        except Exception:
            log.warning("webhooks: keeping the log position failed; will retry", exc_info=True)

    def _write_position(self, tables: WebhookTables) -> None:
        # The position first: what is known then is as of it or later, and applying the
        # events in between again changes nothing.
        position = self.follower.position
        with self._lock:
            state = {"endpoints": self.endpoints, "callbacks": self.callbacks}
            tables.save(position, state)

    # --- sending ---

    async def _send_forever(self, tg: anyio.abc.TaskGroup) -> None:
        while True:
            now = time.time()
            waiting = [(at, key) for key, at in self.due.items() if key not in self.sending]
            for delivery_id in self._next([key for at, key in sorted(waiting) if at <= now]):
                self.sending.add(delivery_id)
                tg.start_soon(self._deliver, delivery_id)
            upcoming = min((at for at, _ in waiting if at > now), default=now + 1.0)
            await self.wakeup.wait(min(max(upcoming - now, 0.01), 1.0))

    def _next(self, due: list[UUID]) -> list[UUID]:
        """What to send now, oldest first, at most `per_user` in flight for any one user."""
        free = self.max_in_flight - len(self.sending)
        in_flight = Counter(self.user_of.get(key, "") for key in self.sending)
        chosen: list[UUID] = []
        for key in due:
            if len(chosen) >= free:
                break
            user = self.user_of.get(key, "")
            if in_flight[user] < self.per_user:
                in_flight[user] += 1
                chosen.append(key)
        return chosen

    async def _deliver(self, delivery_id: UUID) -> None:
        try:
            answer = await anyio.to_thread.run_sync(
                self.app.start_delivery,
                delivery_id,
                self.worker_id,
                time.time(),
                self.lease_seconds,
                claimant_is_dead,
            )
            if isinstance(answer, Attempt):
                outcome = await self.sender.send(answer)
                log.info(
                    "webhook delivery %s attempt %d: %s",
                    delivery_id,
                    answer.attempts,
                    outcome.error or outcome.status_code,
                )
                at = await anyio.to_thread.run_sync(
                    self.app.finish_delivery,
                    delivery_id,
                    self.worker_id,
                    outcome,
                    time.time(),
                    self.backoff,
                )
            else:
                at = answer.at if isinstance(answer, Later) else None
        except Exception:  # the store failed: try again later (the lease guards the rest)
            log.exception("webhook delivery %s failed to be recorded", delivery_id)
            at = time.time() + self.backoff.first
        finally:
            self.sending.discard(delivery_id)
        if at is None:
            self.due.pop(delivery_id, None)
            self.user_of.pop(delivery_id, None)
        else:
            self.due[delivery_id] = at
        self.wakeup.set()


def _due_after(event: Delivery.Event) -> float | None:
    if isinstance(event, Delivery.Opened):
        return event.created_at
    if isinstance(event, Delivery.AttemptStarted):
        return event.lease_until
    if isinstance(event, Delivery.AttemptFailed):
        return event.next_at
    return None  # Succeeded, GaveUp
