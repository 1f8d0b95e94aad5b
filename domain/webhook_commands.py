"""Webhooks: a user's endpoints and callback secret, a run's callback, and the deliverer's
commands on deliveries (open, start an attempt under a lease, record its outcome).

Signing secrets are made here, sealed by the injected `SecretBox` before anything is recorded,
and opened only to sign a delivery. Where a URL may point is the injected `CheckTarget`'s
decision (adapters/webhooks/ssrf.py), so the domain itself resolves no names.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from qorch.domain.application_base import ApplicationBase, Recorded
from qorch.domain.errors import Conflict, NotFound, RequestError
from qorch.domain.fields import checked_text
from qorch.domain.webhook import (
    CALLBACK,
    Backoff,
    Callback,
    Delivery,
    Endpoint,
    Webhooks,
    checked_events,
    checked_url,
    new_signing_secret,
)

CheckTarget = Callable[[str, str], None]
"""(field, url): raises RequestError naming `field` when deliveries may not go to `url`."""
CALLBACK_CONTEXT = "callback:"
SAVE_TRIES = 8
T = TypeVar("T")


class SecretBox(Protocol):
    """Seals signing secrets for the log; `context` binds a sealed value to its owner."""

    def seal(self, secret: str, context: str) -> str: ...

    def open(self, sealed: str, context: str) -> str: ...


class CannotSeal:
    """For applications that never keep webhooks (replay, tests of other commands)."""

    def seal(self, secret: str, context: str) -> str:
        raise RuntimeError("this application cannot keep webhook secrets")

    def open(self, sealed: str, context: str) -> str:
        raise RuntimeError("this application cannot open webhook secrets")


def shape_only(field: str, url: str) -> None:
    checked_url(field, url)


@dataclass(frozen=True)
class Registration:
    endpoint: Endpoint
    secret: str
    """Shown once: only its sealed form is recorded."""
    position: int


@dataclass(frozen=True)
class Attempt:
    """A delivery to send now, signed with `secret`."""

    delivery_id: UUID
    url: str
    payload_json: str
    secret: str
    attempts: int


@dataclass(frozen=True)
class Later:
    """A delivery not to send now: another process holds it, or it waits until `at`."""

    at: float


@dataclass(frozen=True)
class Outcome:
    """What an attempt got: `status_code` when the endpoint answered; `error` unless 2xx."""

    status_code: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.status_code is not None and 200 <= self.status_code < 300


class WebhookCommands(ApplicationBase):
    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        webhook_secrets: SecretBox | None = None,
        check_webhook_target: CheckTarget = shape_only,
        **ports: Any,
    ) -> None:
        super().__init__(env, **ports)
        self.webhook_secrets: SecretBox = webhook_secrets or CannotSeal()
        self.check_webhook_target = check_webhook_target

    # --- a user's endpoints ---

    def register_webhook(
        self, user_id: UUID, url: Any, events: Any = None, description: Any = ""
    ) -> Registration:
        self._check_target("url", url)
        kinds = checked_events(events)
        text = checked_text("description", description, self.limits.text.max_description)
        webhook_id, secret = uuid.uuid4(), new_signing_secret()
        sealed = self.webhook_secrets.seal(secret, str(webhook_id))

        def attempt() -> Registration:
            webhooks = self._webhooks(user_id) or Webhooks(user_id=user_id)
            webhooks.register(webhook_id, url, kinds, text, sealed, time.time())
            recorded = self._saved(webhooks)
            return Registration(webhooks.endpoints[webhook_id], secret, recorded.position)

        return self._retried(attempt, "webhooks changed concurrently; retry")

    def remove_webhook(self, user_id: UUID, webhook_id: str) -> Recorded:
        def attempt() -> Recorded:
            webhooks = self._webhooks(user_id)
            endpoint_id = _endpoint_id(webhooks, webhook_id)
            if webhooks is None or endpoint_id is None:
                raise NotFound("webhook", webhook_id)
            webhooks.remove(endpoint_id)
            return self._saved(webhooks)

        return self._retried(attempt, "webhooks changed concurrently; retry")

    def user_webhooks(self, user_id: UUID) -> list[Endpoint]:
        webhooks = self._webhooks(user_id)
        found = webhooks.endpoints.values() if webhooks is not None else ()
        return sorted(found, key=lambda endpoint: endpoint.created_at)

    def user_webhook(self, user_id: UUID, webhook_id: str) -> Endpoint:
        webhooks = self._webhooks(user_id)
        endpoint_id = _endpoint_id(webhooks, webhook_id)
        if webhooks is None or endpoint_id is None:
            raise NotFound("webhook", webhook_id)
        return webhooks.endpoints[endpoint_id]

    def new_callback_secret(self, user_id: UUID) -> tuple[str, float]:
        """A new secret for the pushes to the user's runs' callback_url (replacing any earlier
        one); answered once, with when it was made."""
        secret = new_signing_secret()
        sealed = self.webhook_secrets.seal(secret, CALLBACK_CONTEXT + str(user_id))

        def attempt() -> tuple[str, float]:
            webhooks = self._webhooks(user_id) or Webhooks(user_id=user_id)
            webhooks.set_callback_secret(sealed, time.time())
            self.save(webhooks)
            return secret, webhooks.callback_secret_at

        return self._retried(attempt, "webhooks changed concurrently; retry")

    def _callbacks(self, user_id: UUID, job_id: UUID, url: str | None) -> list[Callback]:
        """The job's callback, to save *before* the job (so it precedes its first change);
        [] without a callback_url. Refuses a URL that may not be called, and a user without a
        callback secret (the pushes could not be verified)."""
        if url is None:
            return []
        self._check_target("callback_url", url)
        webhooks = self._webhooks(user_id)
        if webhooks is None or webhooks.callback_secret is None:
            raise RequestError(
                "callback_url",
                "create your callback signing secret first (POST /webhooks/callback-secret): "
                "it signs the pushes to every callback_url",
            )
        return [Callback(user_id=user_id, job_id=job_id, url=url)]

    # --- the deliverer's commands ---

    def open_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Records new deliveries; one that another process recorded first is left as it is."""
        # Their events, collected once: a failed save has already drained the aggregates.
        opened = [event for delivery in deliveries for event in delivery.collect_events()]
        try:
            self.save(*opened)
        except IntegrityError:
            for event in opened:
                try:
                    self.save(event)
                except IntegrityError:
                    continue

    def start_delivery(
        self,
        delivery_id: UUID,
        worker_id: str,
        now: float,
        lease_seconds: float,
        is_dead: Callable[[str], bool],
    ) -> Attempt | Later | None:
        """Takes the delivery's lease and answers what to send; Later when it is not due or
        held by another live sender; None when it has ended (delivered, given up, or given up
        now because its webhook or secret is gone)."""
        delivery = self._find(Delivery, delivery_id)
        if delivery is None or delivery.ended:
            return None
        secret = self._secret_for(delivery)
        if secret is None:
            delivery.give_up("the webhook was deleted, or its secret cannot be opened here")
            self._save_quietly(delivery)
            return None
        holder_dead = delivery.worker_id is not None and is_dead(delivery.worker_id)
        try:
            delivery.start(worker_id, now, lease_seconds, holder_dead)
            self.save(delivery)
        except (Conflict, IntegrityError):
            due = delivery.due_at()
            return None if due is None else Later(max(due, now + 0.5))
        return Attempt(delivery.id, delivery.url, delivery.payload_json, secret, delivery.attempts)

    def finish_delivery(
        self, delivery_id: UUID, worker_id: str, outcome: Outcome, now: float, backoff: Backoff
    ) -> float | None:
        """Records an attempt's outcome; answers when to try again (None: it has ended)."""
        delivery: Delivery = self.repository.get(delivery_id)
        if outcome.ok:
            assert outcome.status_code is not None
            delivery.succeed(worker_id, outcome.status_code)
        else:
            delivery.fail(worker_id, outcome.error, outcome.status_code, now, backoff)
        self.save(delivery)
        return delivery.due_at()

    def _secret_for(self, delivery: Delivery) -> str | None:
        webhooks = self._webhooks(delivery.user_id)
        if webhooks is None:
            return None
        if delivery.kind == CALLBACK:
            sealed, context = webhooks.callback_secret, CALLBACK_CONTEXT + str(webhooks.user_id)
        else:
            endpoint = webhooks.endpoints.get(delivery.endpoint_id)
            sealed, context = (endpoint.sealed_secret, str(endpoint.id)) if endpoint else (None, "")
        if sealed is None:
            return None
        try:
            return self.webhook_secrets.open(sealed, context)
        except Exception:  # sealed under another QORCH_SECRET_KEY: it cannot be signed here
            return None

    def _save_quietly(self, delivery: Delivery) -> None:
        with contextlib.suppress(IntegrityError):  # another process recorded an outcome first
            self.save(delivery)

    def _webhooks(self, user_id: UUID) -> Webhooks | None:
        return self._find(Webhooks, Webhooks.create_id(user_id))

    def _check_target(self, field: str, url: Any) -> None:
        checked_url(field, url)
        self.check_webhook_target(field, url)

    def _retried(self, attempt: Callable[[], T], conflict: str) -> T:
        """`attempt` (get, change, save) again while its save loses a race with another
        change of the user's webhooks."""
        for _ in range(SAVE_TRIES):
            try:
                return attempt()
            except IntegrityError:
                continue
        raise Conflict(conflict)


def _endpoint_id(webhooks: Webhooks | None, webhook_id: str) -> UUID | None:
    """The id of one of these endpoints, or None (not theirs, or not an id at all)."""
    try:
        endpoint_id = UUID(str(webhook_id))
    except ValueError:
        return None
    return endpoint_id if webhooks is not None and endpoint_id in webhooks.endpoints else None
