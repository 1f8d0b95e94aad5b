"""Webhooks through the application's commands, on the in-memory event store: a user registers
endpoints (the secret shown once, recorded only sealed), deliveries are opened once whoever
opens them, one sender at a time holds a delivery, and failures back off until 24 h."""

from __future__ import annotations

import os
import time
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from qorch.adapters.webhooks.signing import SealedSecrets, signed_headers
from qorch.adapters.webhooks.ssrf import TargetGuard
from qorch.domain.application import Qorch
from qorch.domain.errors import Conflict, NotFound, RequestError
from qorch.domain.job import Job
from qorch.domain.webhook import (
    CALLBACK,
    ENDPOINT,
    MAX_ENDPOINTS,
    RETRY_FOR,
    Backoff,
    Callback,
    Delivery,
    DeliveryStatus,
)
from qorch.domain.webhook_commands import Attempt, Later, Outcome
from qorch.domain.webhook_payload import job_change
from tests.domain.factories import a_job
from tests.domain.test_commands import SIMULATOR, Holder, check_options, facts_of

HOOK = "https://hooks.example.com/qorch"
BACKOFF = Backoff(first=5.0, most=3600.0)


@pytest.fixture
def app() -> Qorch:
    return Qorch(
        describe_circuit=facts_of,
        find_device={SIMULATOR.id: SIMULATOR}.get,
        check_options=check_options,
        credentials=Holder(),
        webhook_secrets=SealedSecrets(lambda: os.urandom(32)),
        check_webhook_target=TargetGuard().check,
    )


def everything_recorded(app: Qorch) -> str:
    return b"".join(n.state for n in app.recorder.select_notifications(1, 10_000)).decode()


def a_delivery(user_id: UUID, endpoint_id: UUID, position: int = 7, now: float = 1000.0):
    return Delivery(
        endpoint_id=endpoint_id,
        kind=ENDPOINT,
        user_id=user_id,
        job_id=UUID(int=1),
        position=position,
        url=HOOK,
        event_type="job.done",
        payload_json='{"type":"job.done"}',
        created_at=now,
    )


def test_a_webhook_secret_is_shown_once_and_recorded_only_sealed(app: Qorch):
    user_id, _ = app.register_user("ada")
    registration = app.register_webhook(user_id, HOOK, ["job.done"], "ci")

    assert registration.secret.startswith("whsec_")
    assert registration.endpoint.events == ("job.done",)
    assert registration.secret.removeprefix("whsec_") not in everything_recorded(app)
    [listed] = app.user_webhooks(user_id)
    assert listed.url == HOOK and not hasattr(listed, "secret")
    # What a delivery is signed with verifies with the secret shown, and only its body.
    headers = signed_headers(registration.secret, "msg-1", '{"a":1}', time.time())
    assert Webhook(registration.secret).verify('{"a":1}', headers) == {"a": 1}
    with pytest.raises(WebhookVerificationError):
        Webhook(registration.secret).verify('{"a":2}', headers)


def test_every_event_type_is_the_default_and_unknown_ones_are_refused(app: Qorch):
    user_id, _ = app.register_user("ada")
    every = app.register_webhook(user_id, HOOK).endpoint.events
    assert set(every) == {
        "job.queued",
        "job.running",
        "job.done",
        "job.error",
        "job.cancelled",
        "job.submitted",
    }
    for events in ([], ["job.finished"], "job.done"):
        with pytest.raises(RequestError) as refused:
            app.register_webhook(user_id, HOOK, events)
        assert refused.value.field == "events"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "hooks.example.com/x",
        "https://user:pass@hooks.example.com/x",
        "https://hooks.example.com:99999/x",
        "https://hooks.example.com/a b",
        "https://" + "a" * 2100 + ".com/",
        "http://127.0.0.1:8000/",
        "http://localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::ffff:10.0.0.1]/",
        "http://2130706433/",
    ],
)
def test_a_url_that_is_malformed_or_points_inside_is_refused_and_nothing_recorded(
    app: Qorch, url: str
):
    user_id, _ = app.register_user("ada")
    before = app.recorder.max_notification_id()
    with pytest.raises(RequestError) as refused:
        app.register_webhook(user_id, url)
    assert refused.value.field == "url"
    assert app.recorder.max_notification_id() == before


def test_a_user_has_at_most_twenty_webhooks_and_sees_only_their_own(app: Qorch):
    ada, _ = app.register_user("ada")
    bob, _ = app.register_user("bob")
    ids = [app.register_webhook(ada, HOOK).endpoint.id for _ in range(MAX_ENDPOINTS)]
    with pytest.raises(Conflict):
        app.register_webhook(ada, HOOK)

    assert app.user_webhooks(bob) == []
    with pytest.raises(NotFound):
        app.user_webhook(bob, str(ids[0]))
    with pytest.raises(NotFound):
        app.remove_webhook(bob, str(ids[0]))
    with pytest.raises(NotFound):
        app.user_webhook(ada, "not-an-id")

    app.remove_webhook(ada, str(ids[0]))
    assert [endpoint.id for endpoint in app.user_webhooks(ada)] == ids[1:]
    app.register_webhook(ada, HOOK)  # room again


def test_a_delivery_is_opened_once_however_many_deliverers_open_it(app: Qorch):
    user_id, _ = app.register_user("ada")
    endpoint = app.register_webhook(user_id, HOOK).endpoint
    first, again = a_delivery(user_id, endpoint.id), a_delivery(user_id, endpoint.id)
    assert first.id == again.id == Delivery.create_id(endpoint.id, 7)

    app.open_deliveries([first])
    app.open_deliveries([again, a_delivery(user_id, endpoint.id, position=8)])

    assert [e.originator_version for e in app.events.get(first.id)] == [1]
    assert app.repository.get(Delivery.create_id(endpoint.id, 8)).status == "pending"


def test_one_sender_holds_a_delivery_until_its_lease_lapses_or_it_dies(app: Qorch):
    user_id, _ = app.register_user("ada")
    registration = app.register_webhook(user_id, HOOK)
    delivery = a_delivery(user_id, registration.endpoint.id)
    app.open_deliveries([delivery])

    def alive(worker: str) -> bool:
        return False

    attempt = app.start_delivery(delivery.id, "w1", 1000.0, 30.0, alive)
    assert isinstance(attempt, Attempt)
    assert (attempt.secret, attempt.attempts, attempt.url) == (registration.secret, 1, HOOK)
    assert app.start_delivery(delivery.id, "w2", 1010.0, 30.0, alive) == Later(1030.0)
    # w1 died mid-send: a sender on its host takes over at once, with the same delivery id.
    taken = app.start_delivery(delivery.id, "w2", 1011.0, 30.0, lambda worker: worker == "w1")
    assert isinstance(taken, Attempt) and taken.delivery_id == delivery.id
    assert taken.attempts == 2
    with pytest.raises(Conflict):  # w1's late outcome cannot be recorded any more
        app.finish_delivery(delivery.id, "w1", Outcome(200), 1012.0, BACKOFF)
    assert app.finish_delivery(delivery.id, "w2", Outcome(204), 1012.0, BACKOFF) is None
    assert app.repository.get(delivery.id).status == DeliveryStatus.DELIVERED
    assert app.start_delivery(delivery.id, "w3", 2000.0, 30.0, alive) is None


def test_failed_attempts_back_off_exponentially_and_give_up_after_24_hours(app: Qorch):
    user_id, _ = app.register_user("ada")
    endpoint = app.register_webhook(user_id, HOOK).endpoint
    delivery = a_delivery(user_id, endpoint.id, now=0.0)
    app.open_deliveries([delivery])

    now, waits = 0.0, []
    while True:
        attempt = app.start_delivery(delivery.id, "w", now, 30.0, lambda worker: False)
        assert isinstance(attempt, Attempt)
        due = app.finish_delivery(delivery.id, "w", Outcome(503, "HTTP 503"), now, BACKOFF)
        if due is None:
            break
        waits.append(due - now)
        assert app.start_delivery(delivery.id, "w", due - 1, 30.0, lambda w: False) == Later(due)
        now = due

    assert waits[:4] == [5.0, 10.0, 20.0, 40.0] and waits[-1] == 3600.0
    assert all(
        later == min(2 * earlier, 3600.0) for earlier, later in zip(waits, waits[1:], strict=False)
    )
    assert now <= RETRY_FOR < now + 3600.0
    ended: Delivery = app.repository.get(delivery.id)
    assert (ended.status, ended.last_error, ended.attempts) == (
        "failed",
        "HTTP 503",
        len(waits) + 1,
    )


def test_a_deleted_webhooks_deliveries_are_given_up_unsent(app: Qorch):
    user_id, _ = app.register_user("ada")
    endpoint = app.register_webhook(user_id, HOOK).endpoint
    delivery = a_delivery(user_id, endpoint.id)
    app.open_deliveries([delivery])
    app.remove_webhook(user_id, str(endpoint.id))

    assert app.start_delivery(delivery.id, "w", 1000.0, 30.0, lambda w: False) is None
    assert app.repository.get(delivery.id).status == DeliveryStatus.FAILED


def test_a_run_callback_needs_a_callback_secret_and_an_allowed_url(app: Qorch):
    user_id, _ = app.register_user("ada")
    job_id = UUID(int=5)
    assert app._callbacks(user_id, job_id, None) == []
    with pytest.raises(RequestError, match="callback signing secret") as refused:
        app._callbacks(user_id, job_id, HOOK)
    assert refused.value.field == "callback_url"

    secret, _ = app.new_callback_secret(user_id)
    with pytest.raises(RequestError) as inside:
        app._callbacks(user_id, job_id, "http://10.1.2.3/hook")
    assert inside.value.field == "callback_url"
    [callback] = app._callbacks(user_id, job_id, HOOK)
    assert callback.id == Callback.create_id(job_id) and callback.url == HOOK

    app.save(callback)
    delivery = Delivery(
        endpoint_id=callback.id,
        kind=CALLBACK,
        user_id=user_id,
        job_id=job_id,
        position=3,
        url=HOOK,
        event_type="job.queued",
        payload_json="{}",
        created_at=1.0,
    )
    app.open_deliveries([delivery])
    attempt = app.start_delivery(delivery.id, "w", 2.0, 30.0, lambda w: False)
    assert isinstance(attempt, Attempt) and attempt.secret == secret
    assert secret.removeprefix("whsec_") not in everything_recorded(app)


def test_a_push_is_the_compact_job_never_its_results_inputs_or_options():
    job = a_job(options_json='{"seed_simulator": 7}')
    job.claim("w", 0.0, 30.0, claimant_dead=False)
    job.record_failure("w", {"code": "time_limit", "message": "ran too long", "retryable": True})
    failed = job.collect_events()[-1]

    push = job_change(job, failed)

    assert push["type"] == "job.error"
    data = push["data"]
    assert (data["id"], data["status"], data["attempts"]) == (str(job.id), "Error", 1)
    assert data["error"] == {"code": "time_limit", "message": "ran too long", "retryable": True}
    assert data["finish_date"] == failed.timestamp.isoformat()
    for hidden in ("options", "parameters", "observables", "quantum_results", "user_id"):
        assert hidden not in data
    assert isinstance(failed, Job.Failed)


def test_two_racing_registrations_both_land(app: Qorch):
    user_id, _ = app.register_user("ada")
    app.register_webhook(user_id, HOOK)
    # A save that lost the race on the user's webhooks is tried again, not reported.
    real_save = app.save
    lost = [True]

    def losing_once(*objs, **kwargs):
        if lost and lost.pop():
            raise IntegrityError("lost the race")
        return real_save(*objs, **kwargs)

    app.save = losing_once  # type: ignore[method-assign]
    app.register_webhook(user_id, HOOK)
    assert len(app.user_webhooks(user_id)) == 2
