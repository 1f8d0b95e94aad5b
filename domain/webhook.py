"""Webhooks: where a user's job status changes are pushed, and each push's life as events.

- `Webhooks`, one per user: the endpoints they registered (url, event types, a signing secret
  sealed by the application's secret box, never in plaintext) and their callback secret, which
  signs the pushes to a run's own `callback_url`.
- `Callback`, one per job submitted with a `callback_url`: every status change of that job, until
  it ends, goes there.
- `Delivery`, one per (endpoint, job event): its id is derived from both, so it is the stable
  `webhook-id` of every attempt, and two processes that open it at once cannot both record it.
  Attempts are leased like jobs (one sender at a time), and retried with exponential backoff
  (`Backoff`) until `RETRY_FOR` after the job event.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from qorch.domain.errors import Conflict, RequestError
from qorch.domain.job import STATUS_AFTER
from qorch.domain.per_user import OnePerUser

SECRET_PREFIX = "whsec_"
EVENT_TYPES = {status: f"job.{status.value.lower()}" for status in set(STATUS_AFTER.values())}
"""The event type a job status change is pushed as: job.queued, job.running, job.done, ..."""
ALL_EVENT_TYPES = tuple(sorted(EVENT_TYPES.values()))
MAX_ENDPOINTS = 20
"""Per user: each endpoint receives every matching change of every job of theirs."""
RETRY_FOR = 24 * 3600.0
"""A delivery that still fails this long after its job event is given up."""
MAX_ERROR = 500
MAX_URL = 2048


def checked_url(field: str, url: Any) -> str:
    """An absolute http(s) URL without credentials in it (they would be recorded). Where it
    may point is the adapters' check (adapters/webhooks/ssrf.py)."""
    if not isinstance(url, str) or not url.strip():
        raise RequestError(field, "must be an http:// or https:// URL")
    if len(url) > MAX_URL:
        raise RequestError(field, f"must be at most {MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise RequestError(field, "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number in range)
    except ValueError as error:
        raise RequestError(field, f"is not a valid URL ({error})") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestError(field, "must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise RequestError(field, "must not carry credentials (user:password@)")
    return url


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True)
class Endpoint:
    id: UUID
    url: str
    events: tuple[str, ...]
    description: str
    sealed_secret: str
    created_at: float


@dataclass(frozen=True)
class Backoff:
    """Seconds before attempt n + 1 after n failed: `first` * 2^(n-1), at most `most`."""

    first: float = 5.0
    most: float = 3600.0

    def delay(self, attempts: int) -> float:
        return min(self.first * 2.0 ** min(max(attempts - 1, 0), 64), self.most)


def checked_events(given: Any) -> tuple[str, ...]:
    """The event types an endpoint receives: all of them when none are given."""
    if given is None:
        return ALL_EVENT_TYPES
    if not isinstance(given, list | tuple) or not given:
        raise RequestError("events", f"must list event types among {', '.join(ALL_EVENT_TYPES)}")
    unknown = [kind for kind in given if kind not in ALL_EVENT_TYPES]
    if unknown:
        raise RequestError(
            "events", f"unknown event type {unknown[0]!r}; known: {', '.join(ALL_EVENT_TYPES)}"
        )
    return tuple(sorted(set(given)))


class Webhooks(OnePerUser, Aggregate):
    ID_PREFIX = "qorch:webhooks:"

    class Opened(Aggregate.Created):
        user_id: UUID

    class Registered(Aggregate.Event):
        webhook_id: UUID
        url: str
        events: list[str]
        description: str
        sealed_secret: str
        created_at: float

    class Removed(Aggregate.Event):
        webhook_id: UUID

    class CallbackSecretSet(Aggregate.Event):
        sealed_secret: str
        created_at: float

    @event(Opened)
    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        self.endpoints: dict[UUID, Endpoint] = {}
        self.callback_secret: str | None = None
        """Sealed; signs the pushes to the callback_url of the user's runs."""
        self.callback_secret_at = 0.0

    def register(
        self,
        webhook_id: UUID,
        url: str,
        events: tuple[str, ...],
        description: str,
        sealed_secret: str,
        now: float,
    ) -> None:
        if len(self.endpoints) >= MAX_ENDPOINTS:
            raise Conflict(f"a user may have {MAX_ENDPOINTS} webhooks; delete one first")
        self._registered(
            webhook_id=webhook_id,
            url=url,
            events=list(events),
            description=description,
            sealed_secret=sealed_secret,
            created_at=now,
        )

    @event(Registered)
    def _registered(
        self,
        webhook_id: UUID,
        url: str,
        events: list[str],
        description: str,
        sealed_secret: str,
        created_at: float,
    ) -> None:
        self.endpoints[webhook_id] = Endpoint(
            webhook_id, url, tuple(events), description, sealed_secret, created_at
        )

    def remove(self, webhook_id: UUID) -> None:
        if webhook_id not in self.endpoints:
            raise Conflict(f"there is no webhook {webhook_id}")
        self._removed(webhook_id=webhook_id)

    @event(Removed)
    def _removed(self, webhook_id: UUID) -> None:
        del self.endpoints[webhook_id]

    def set_callback_secret(self, sealed_secret: str, now: float) -> None:
        self._callback_secret_set(sealed_secret=sealed_secret, created_at=now)

    @event(CallbackSecretSet)
    def _callback_secret_set(self, sealed_secret: str, created_at: float) -> None:
        self.callback_secret = sealed_secret
        self.callback_secret_at = created_at


class Callback(Aggregate):
    """A run's own `callback_url`: saved with its job (before it, so it precedes the job's first
    status change in the log)."""

    @staticmethod
    def create_id(job_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"qorch:callback:{job_id}")

    class Registered(Aggregate.Created):
        user_id: UUID
        job_id: UUID
        url: str

    @event(Registered)
    def __init__(self, user_id: UUID, job_id: UUID, url: str) -> None:
        self.user_id = user_id
        self.job_id = job_id
        self.url = url


ENDPOINT = "endpoint"
CALLBACK = "callback"


class DeliveryStatus:
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Delivery(Aggregate):
    @staticmethod
    def create_id(endpoint_id: UUID, position: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"qorch:webhook-delivery:{endpoint_id}:{position}")

    class Opened(Aggregate.Created):
        """`endpoint_id`: the user's webhook, or the job's Callback (`kind` says which);
        `position`: the log position of the job event pushed."""

        endpoint_id: UUID
        kind: str
        user_id: UUID
        job_id: UUID
        position: int
        url: str
        event_type: str
        payload_json: str
        created_at: float

    class AttemptStarted(Aggregate.Event):
        worker_id: str
        lease_until: float

    class Succeeded(Aggregate.Event):
        status_code: int

    class AttemptFailed(Aggregate.Event):
        error: str
        status_code: int | None
        next_at: float

    class GaveUp(Aggregate.Event):
        error: str
        status_code: int | None

    @event(Opened)
    def __init__(
        self,
        endpoint_id: UUID,
        kind: str,
        user_id: UUID,
        job_id: UUID,
        position: int,
        url: str,
        event_type: str,
        payload_json: str,
        created_at: float,
    ) -> None:
        self.endpoint_id = endpoint_id
        self.kind = kind
        self.user_id = user_id
        self.job_id = job_id
        self.position = position
        self.url = url
        self.event_type = event_type
        self.payload_json = payload_json
        self.created_at = created_at
        self.status = DeliveryStatus.PENDING
        self.attempts = 0
        self.next_at = created_at
        self.worker_id: str | None = None
        self.lease_until = 0.0
        self.last_error: str | None = None
        self.last_status_code: int | None = None

    @property
    def ended(self) -> bool:
        return self.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)

    def due_at(self) -> float | None:
        """When an attempt may start (None: never again)."""
        if self.ended:
            return None
        return self.lease_until if self.status == DeliveryStatus.SENDING else self.next_at

    def start(self, worker_id: str, now: float, lease_seconds: float, holder_dead: bool) -> None:
        self.check_startable(now, holder_dead)
        self._attempt_started(worker_id=worker_id, lease_until=now + lease_seconds)

    def check_startable(self, now: float, holder_dead: bool) -> None:
        due = self.due_at()
        if due is None:
            raise Conflict(f"delivery {self.id} is {self.status}")
        if now < due and not (self.status == DeliveryStatus.SENDING and holder_dead):
            raise Conflict(f"delivery {self.id} waits until {due}")

    @event(AttemptStarted)
    def _attempt_started(self, worker_id: str, lease_until: float) -> None:
        self.status = DeliveryStatus.SENDING
        self.worker_id = worker_id
        self.lease_until = lease_until
        self.attempts += 1

    def succeed(self, worker_id: str, status_code: int) -> None:
        self.check_held_by(worker_id)
        self._succeeded(status_code=status_code)

    @event(Succeeded)
    def _succeeded(self, status_code: int) -> None:
        self.status = DeliveryStatus.DELIVERED
        self.last_status_code = status_code
        self.last_error = None

    def fail(
        self, worker_id: str, error: str, status_code: int | None, now: float, backoff: Backoff
    ) -> None:
        """Schedules the next attempt, or gives up once it would come after RETRY_FOR."""
        self.check_held_by(worker_id)
        next_at = now + backoff.delay(self.attempts)
        if next_at > self.created_at + RETRY_FOR:
            self._gave_up(error=error[:MAX_ERROR], status_code=status_code)
        else:
            self._attempt_failed(error=error[:MAX_ERROR], status_code=status_code, next_at=next_at)

    @event(AttemptFailed)
    def _attempt_failed(self, error: str, status_code: int | None, next_at: float) -> None:
        self.status = DeliveryStatus.PENDING
        self.last_error = error
        self.last_status_code = status_code
        self.next_at = next_at
        self.worker_id = None

    def give_up(self, error: str) -> None:
        """Ends a delivery that can no longer be made (its webhook was deleted)."""
        if self.ended:
            raise Conflict(f"delivery {self.id} is {self.status}")
        self._gave_up(error=error[:MAX_ERROR], status_code=None)

    @event(GaveUp)
    def _gave_up(self, error: str, status_code: int | None) -> None:
        self.status = DeliveryStatus.FAILED
        self.last_error = error
        self.last_status_code = status_code
        self.worker_id = None

    def check_held_by(self, worker_id: str) -> None:
        if self.status != DeliveryStatus.SENDING or self.worker_id != worker_id:
            raise Conflict(f"delivery {self.id} is not being sent by {worker_id}")
