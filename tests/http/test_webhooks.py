"""Webhooks over HTTP: a user registers a receiver, runs a job, and the receiver gets its status
changes signed the Standard Webhooks way; receivers run on loopback, which this server's
operator allows (QORCH_WEBHOOK_ALLOW_PRIVATE), while the shared server refuses them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from qorch.adapters.webhooks import ssrf
from qorch.http.app import create_app
from tests.conftest import BELL_QASM2, Account, new_account, settings_for
from tests.fakes.webhook_receiver import Receiver

CHANGES = ["job.queued", "job.running", "job.done"]


def hooks_server(data_dir: Path, **settings: object) -> TestClient:
    return TestClient(
        create_app(
            settings_for(data_dir).with_overrides(
                webhook_retry_seconds=0.2, webhook_retry_max_seconds=0.5, **settings
            )
        )
    )


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A qorch whose operator lets webhooks call loopback receivers."""
    with hooks_server(tmp_path_factory.mktemp("hooks"), webhook_allow_private=True) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def register(account: Account, url: str, **body: object) -> dict:
    answer = account.post("/webhooks", {"url": url, **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def in_order(received: list) -> list[str]:
    return [r.payload["type"] for r in sorted(received, key=lambda r: r.payload["timestamp"])]


def deliveries(account: Account, webhook_id: str) -> list[dict]:
    answer = account.get(f"/webhooks/{webhook_id}/deliveries")
    assert answer.status_code == 200, answer.text
    return answer.json()["deliveries"]


def test_a_receiver_gets_queued_running_done_signed(hooks: TestClient, receiver: Receiver):
    ada = new_account(hooks)
    webhook = register(ada, receiver.url, description="ci")
    assert webhook["secret"].startswith("whsec_")

    job = ada.wait_for(ada.run(circuits_qasm=[BELL_QASM2], shots=100)["id"])
    got = receiver.wait_for(lambda found: len(found) >= 3)

    assert in_order(got) == CHANGES
    payloads = [r.verified(webhook["secret"]) for r in got]  # raises unless signed with it
    done = next(p["data"] for p in payloads if p["type"] == "job.done")
    assert (done["id"], done["experiment_id"], done["status"]) == (
        job["id"],
        ada.experiment_id,
        "Done",
    )
    assert done["error"] is None and "quantum_results" not in done and "counts" not in done
    assert len({r.id for r in got}) == 3  # one delivery, one id, per change
    # The receiver has answered; the deliverer records that just after.
    deadline = time.monotonic() + 10
    listed = deliveries(ada, webhook["id"])
    while any(d["status"] == "sending" for d in listed):
        assert time.monotonic() < deadline, listed
        time.sleep(0.05)
        listed = deliveries(ada, webhook["id"])
    assert {d["id"] for d in listed} == {r.id for r in got}
    assert {(d["status"], d["attempts"], d["last_error"]) for d in listed} == {
        ("delivered", 1, None)
    }


def test_a_webhook_gets_only_the_changes_after_it_was_registered_of_its_event_types(
    hooks: TestClient, receiver: Receiver
):
    ada = new_account(hooks)
    ada.wait_for(ada.run(circuits_qasm=[BELL_QASM2], shots=10)["id"])
    register(ada, receiver.url, events=["job.done"])
    after = ada.wait_for(ada.run(circuits_qasm=[BELL_QASM2], shots=10)["id"])

    receiver.wait_for(lambda found: len(found) >= 1)
    time.sleep(1.0)  # room for anything else that would (wrongly) come
    assert [(r.payload["type"], r.payload["data"]["id"]) for r in receiver.received] == [
        ("job.done", after["id"])
    ]


def test_the_secret_is_shown_once_and_a_deleted_webhook_is_gone(hooks: TestClient):
    ada = new_account(hooks)
    webhook = register(ada, "https://hooks.example.com/a", events=["job.done"])

    listed = ada.get("/webhooks").json()["webhooks"]
    assert listed == [{k: v for k, v in webhook.items() if k != "secret"}]
    shown = ada.get(f"/webhooks/{webhook['id']}").json()
    assert "secret" not in shown and shown["events"] == ["job.done"]

    assert ada.client.delete(f"/webhooks/{webhook['id']}", headers=ada.headers).status_code == 204
    assert ada.get(f"/webhooks/{webhook['id']}").status_code == 404
    assert ada.get("/webhooks").json()["webhooks"] == []


def test_a_users_webhooks_never_carry_another_users_jobs(hooks: TestClient):
    ada, bob = new_account(hooks), new_account(hooks)
    adas, bobs = Receiver().start(), Receiver().start()
    try:
        ada_hook, bob_hook = register(ada, adas.url), register(bob, bobs.url)
        bob_job = bob.wait_for(bob.run(circuits_qasm=[BELL_QASM2], shots=10)["id"])
        ada_job = ada.wait_for(ada.run(circuits_qasm=[BELL_QASM2], shots=10)["id"])
        adas.wait_for(lambda found: len(found) >= 3)
        bobs.wait_for(lambda found: len(found) >= 3)

        assert {r.payload["data"]["id"] for r in adas.received} == {ada_job["id"]}
        assert {r.payload["data"]["id"] for r in bobs.received} == {bob_job["id"]}
        assert bob.get(f"/webhooks/{ada_hook['id']}").status_code == 404
        assert bob.get(f"/webhooks/{ada_hook['id']}/deliveries").status_code == 404
        gone = bob.client.delete(f"/webhooks/{ada_hook['id']}", headers=bob.headers)
        assert gone.status_code == 404
        assert [w["id"] for w in bob.get("/webhooks").json()["webhooks"]] == [bob_hook["id"]]
    finally:
        adas.stop()
        bobs.stop()


def test_a_receiver_down_for_a_while_gets_every_delivery_once_back(hooks: TestClient):
    ada = new_account(hooks)
    receiver = Receiver()  # registered, but not listening yet
    webhook = register(ada, receiver.url)
    job = ada.wait_for(ada.run(circuits_qasm=[BELL_QASM2], shots=10)["id"])

    def retried() -> bool:
        listed = deliveries(ada, webhook["id"])
        return len(listed) == 3 and all(d["attempts"] >= 2 for d in listed)

    wait_until(retried)
    waiting = deliveries(ada, webhook["id"])
    assert {d["status"] for d in waiting} <= {"pending", "sending"}
    assert any("ConnectError" in (d["last_error"] or "") for d in waiting)

    receiver.start()
    try:
        got = receiver.wait_for(lambda found: len({r.id for r in found}) >= 3)
        assert in_order(got) == CHANGES
        assert {r.payload["data"]["id"] for r in got} == {job["id"]}
        wait_until(lambda: all(d["status"] == "delivered" for d in deliveries(ada, webhook["id"])))
    finally:
        receiver.stop()


def test_a_callback_url_gets_one_jobs_changes_signed_with_the_callback_secret(
    hooks: TestClient, receiver: Receiver
):
    ada = new_account(hooks)
    refused = ada.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        {"experiment_id": ada.experiment_id, "circuits_qasm": [BELL_QASM2], "callback_url": "x"},
    )
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "callback_url"
    no_secret_yet = ada.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        {
            "experiment_id": ada.experiment_id,
            "circuits_qasm": [BELL_QASM2],
            "callback_url": receiver.url,
        },
    )
    assert no_secret_yet.status_code == 422, no_secret_yet.text

    answer = ada.post("/webhooks/callback-secret", {})
    assert answer.status_code == 201
    secret = answer.json()["secret"]
    job = ada.wait_for(
        ada.run(circuits_qasm=[BELL_QASM2], shots=10, callback_url=receiver.url)["id"]
    )
    ada.wait_for(ada.run(circuits_qasm=[BELL_QASM2], shots=10)["id"])  # no callback_url

    got = receiver.wait_for(lambda found: len(found) >= 3)
    assert in_order(got) == CHANGES
    assert {r.verified(secret)["data"]["id"] for r in got} == {job["id"]}


def test_inside_addresses_are_refused_at_registration_with_a_4xx(alice: Account):
    for url in (
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://[::1]/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/",
    ):
        answer = alice.post("/webhooks", {"url": url})
        assert answer.status_code == 422, (url, answer.text)
        assert answer.json()["error"]["field"] == "url"
        assert "refused" in answer.json()["error"]["message"]
    for body, field in (
        ({"url": "ftp://example.com/"}, "url"),
        ({"url": "https://example.com/", "events": ["job.nope"]}, "events"),
        ({}, "url"),
        ({"url": "https://example.com/", "colour": "red"}, "colour"),
    ):
        answer = alice.post("/webhooks", body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == field
    assert alice.get("/webhooks").json()["webhooks"] == []


def test_a_name_that_resolves_inside_is_refused_at_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
):
    # The name passes registration (names are not looked up then); at delivery it "resolves"
    # to the loopback receiver, which this server's operator did not allow: nothing is sent.
    monkeypatch.setattr(ssrf, "system_resolver", lambda host, port: ["127.0.0.1"])
    with hooks_server(tmp_path) as client:
        ada = new_account(client)
        webhook = register(ada, f"http://hooks.qorch.test:{receiver.port}/hook")
        ada.wait_for(ada.run(circuits_qasm=[BELL_QASM2], shots=10)["id"])

        # An attempt is listed once started, its error once it failed: wait for the error.
        wait_until(lambda: any(d["last_error"] for d in deliveries(ada, webhook["id"])))
        [first, *_] = [d for d in deliveries(ada, webhook["id"]) if d["last_error"]]
        assert first["last_error"].startswith("refused: hooks.qorch.test resolves to 127.0.0.1")
        assert receiver.received == []


def wait_until(done: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")
