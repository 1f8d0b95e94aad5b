"""The deliverer on a real event store, SQLite and PostgreSQL: two deliverers following one log
open each delivery once and send it once; the deliveries table takes each event once, in
order; the tracked position only moves forward."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from qorch.adapters.webhooks.deliverer import Deliverer
from qorch.adapters.webhooks.sender import Sender
from qorch.adapters.webhooks.ssrf import TargetGuard
from qorch.adapters.webhooks.tables import tables_for
from qorch.bootstrap import init_event_store, open_application
from qorch.domain.application import Qorch
from qorch.domain.webhook import ENDPOINT, Backoff, Delivery
from qorch.domain.webhook_commands import Attempt, Outcome
from qorch.settings import Settings
from tests.adapters.test_store import POSTGRES_URL
from tests.conftest import postgres_or_skip
from tests.domain.factories import a_job
from tests.fakes.webhook_receiver import Receiver

BACKOFF = Backoff(first=0.2, most=1.0)


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path, webhook_allow_private=True)
        return
    connection = postgres_or_skip(POSTGRES_URL)
    schema = f"qorch_test_{uuid.uuid4().hex[:8]}"
    connection.execute(f"CREATE SCHEMA {schema}")
    try:
        url = f"{POSTGRES_URL}?schema={schema}"
        found = Settings(data_dir=tmp_path, database_url=url, webhook_allow_private=True)
        init_event_store(found)
        yield found
    finally:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")
        connection.close()


def a_finished_job(app: Qorch, user_id: uuid.UUID) -> uuid.UUID:
    """A job of the user's that was queued, ran and is done: three status changes."""
    job = a_job(user_id=user_id)
    app.save(job)
    job.claim("w", 0.0, 30.0, claimant_dead=False)
    app.save(job)
    job.record_results("w", {"quantum_results": [{"00": 1.0}]})
    app.save(job)
    return job.id


def deliverer(app: Qorch) -> Deliverer:
    sender = Sender(TargetGuard(allow_private=True), timeout=5.0)
    return Deliverer(app, sender, poll_interval=0.05, backoff=BACKOFF, every=0.2)


@pytest.mark.anyio
async def test_two_deliverers_on_one_log_open_and_send_each_change_once(settings: Settings):
    one, other = open_application(settings), open_application(settings)
    receiver = Receiver().start()
    try:
        user_id, _ = one.register_user("ada")
        registration = one.register_webhook(user_id, receiver.url)
        job_id = a_finished_job(one, user_id)
        tables = tables_for(one.recorder)
        assert tables is not None

        def delivered() -> bool:
            rows = tables.deliveries(str(registration.endpoint.id), str(user_id), 10, 0)
            return len(rows) == 3 and {row["status"] for row in rows} == {"delivered"}

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(deliverer(one).run)
                tg.start_soon(deliverer(other).run)
                while not delivered():
                    await anyio.sleep(0.1)
                tg.cancel_scope.cancel()

        sent = Counter(r.id for r in receiver.received)
        assert len(sent) == 3 and set(sent.values()) == {1}
        assert {r.verified(registration.secret)["data"]["id"] for r in receiver.received} == {
            str(job_id)
        }
        position, state = tables.load() or (0, {})
        assert position > 0 and str(registration.endpoint.id) in str(state["endpoints"])
    finally:
        receiver.stop()
        one.close()
        other.close()


def test_the_table_takes_each_delivery_event_once_and_the_position_only_moves_on(
    settings: Settings,
):
    app = open_application(settings)
    try:
        user_id, _ = app.register_user("ada")
        endpoint = app.register_webhook(user_id, "https://hooks.example.com/").endpoint
        opened = Delivery(
            endpoint_id=endpoint.id,
            kind=ENDPOINT,
            user_id=user_id,
            job_id=uuid.uuid4(),
            position=3,
            url=endpoint.url,
            event_type="job.done",
            payload_json="{}",
            created_at=1.0,
        )
        app.open_deliveries([opened])
        failures = [(2.0, Outcome(None, "ConnectError: refused")), (10.0, Outcome(500, "HTTP 500"))]
        for now, outcome in failures:
            attempt = app.start_delivery(opened.id, "w", now, 30, str.isspace)
            assert isinstance(attempt, Attempt)
            app.finish_delivery(opened.id, "w", outcome, now + 1, BACKOFF)
        events: list[Any] = list(app.events.get(opened.id))
        tables = tables_for(app.recorder)
        assert tables is not None

        tables.apply(events[:3])
        tables.apply(events)  # again, and further: each event counts once
        tables.apply(events[1:2])  # a late, older one changes nothing
        [row] = tables.deliveries(str(endpoint.id), str(user_id), 10, 0)
        assert (row["status"], row["attempts"], row["last_error"], row["last_status_code"]) == (
            "pending",
            2,
            "HTTP 500",
            500,
        )
        assert tables.unfinished() == [(str(opened.id), row["next_at"], str(user_id))]
        assert tables.deliveries(str(endpoint.id), str(uuid.uuid4()), 10, 0) == []

        tables.save(10, {"endpoints": {"a": 1}})
        tables.save(5, {"endpoints": {"b": 2}})
        assert tables.load() == (10, {"endpoints": {"a": 1}})
    finally:
        app.close()


@pytest.mark.anyio
async def test_one_users_hanging_receiver_never_holds_every_slot(tmp_path: Path):
    """A user whose receiver never answers cannot hold up another user's deliveries: at most a
    quarter of the deliverer's slots go to one user at a time."""
    app = open_application(Settings(data_dir=tmp_path, webhook_allow_private=True))
    hanging, prompt = Receiver(), Receiver().start()
    hanging.hang = True
    hanging.start()
    try:
        ada, _ = app.register_user("ada")
        bob, _ = app.register_user("bob")
        app.register_webhook(ada, hanging.url)
        app.register_webhook(bob, prompt.url)
        for _ in range(3):
            a_finished_job(app, ada)  # nine deliveries, opened before bob's
        bobs_job = a_finished_job(app, bob)
        sender = Sender(TargetGuard(allow_private=True), timeout=20.0)
        slow = Deliverer(app, sender, poll_interval=0.05, backoff=BACKOFF, max_in_flight=4)

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow.run)
            # Oldest first, bob would wait until ada's attempts time out (20 s each, 4 at once).
            await anyio.to_thread.run_sync(
                lambda: prompt.wait_for(lambda got: len(got) == 3, seconds=15)
            )
            assert len(hanging.received) == 1  # one slot for ada: her first attempt still hangs
            tg.cancel_scope.cancel()
        assert prompt.types_for(str(bobs_job)) == ["job.queued", "job.running", "job.done"]
    finally:
        hanging.stop()
        prompt.stop()
        app.close()
