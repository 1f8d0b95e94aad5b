"""`GET /events`: a program follows its jobs' status changes as server-sent events, resumes
after a drop with `Last-Event-ID` and misses nothing, and sees no one else's jobs."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from qorch.http import events as events_module
from tests.conftest import BELL_QASM2, Account

Event = dict[str, Any]
HUGE = "99999999999999999999"


def read_events(
    client: TestClient,
    headers: dict[str, str],
    params: dict[str, str] | None = None,
    until: Callable[[list[Event]], bool] = lambda events: False,
    connected: threading.Event | None = None,
) -> list[Event]:
    """The events of one `GET /events` response, read until `until(events)` or the response
    ends; each as {"id": int, "event": name, "data": parsed JSON}."""
    read: list[Event] = []
    with client.stream("GET", "/events", headers=headers, params=params) as stream:
        assert stream.status_code == 200, stream.read()
        assert stream.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in stream.iter_lines():
            if connected is not None:
                connected.set()
            if line.startswith(":"):
                continue  # a keep-alive comment
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if "data" in fields:
                read.append(
                    {
                        "id": int(fields["id"]),
                        "event": fields["event"],
                        "data": json.loads(fields["data"]),
                    }
                )
                if until(read):
                    break
            fields = {}
    return read


def statuses(events: list[Event], job_id: str) -> list[str]:
    return [event["data"]["status"] for event in events if event["data"]["id"] == job_id]


def done(job_id: str) -> Callable[[list[Event]], bool]:
    return lambda events: "Done" in statuses(events, job_id)


@pytest.fixture
def short_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each response ends after 2 seconds: reading one to its end reads everything it sends."""
    monkeypatch.setattr(events_module, "STREAM_SECONDS", 2.0)


def any_done(events: list[Event]) -> bool:
    return any(event["data"]["status"] == "Done" for event in events)


def test_a_client_reads_queued_running_done_of_its_job_as_they_happen(alice: Account):
    connected = threading.Event()
    found: list[list[Event]] = []
    params = {"experiment_id": alice.experiment_id}  # no `after`: from the present on

    def follow() -> None:
        found.append(read_events(alice.client, alice.headers, params, any_done, connected))

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    assert connected.wait(30)  # the stream's first frame came: it follows the log from here
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=5)
    reader.join(60)
    assert not reader.is_alive()
    (events,) = found

    assert statuses(events, job["id"]) == ["Queued", "Running", "Done"]
    assert [event["event"] for event in events] == ["job"] * 3
    ids = [event["id"] for event in events]
    assert ids == sorted(ids) and len(set(ids)) == 3
    last = events[-1]["data"]
    assert last["experiment_id"] == alice.experiment_id and last["device_id"] == "aer_simulator"
    assert last["finish_date"] and last["error"] is None
    assert not {"quantum_results", "counts", "options", "events"} & set(last)


def test_a_client_that_reconnects_with_its_last_event_id_gets_the_rest_none_twice(
    alice: Account, short_streams: None
):
    jobs = [alice.run(circuits_qasm=[BELL_QASM2], shots=5, name=f"job-{i}") for i in range(3)]
    for job in jobs:
        alice.wait_for(job["id"])
    history = read_events(alice.client, alice.headers, {"after": "0"})
    assert all(statuses(history, job["id"]) == ["Queued", "Running", "Done"] for job in jobs)

    first = read_events(alice.client, alice.headers, {"after": "0"}, until=lambda e: len(e) == 4)
    assert first == history[:4]  # then the connection drops
    resumed = read_events(alice.client, {**alice.headers, "Last-Event-ID": str(first[-1]["id"])})
    assert first + resumed == history  # every change once, in log order
    # Last-Event-ID (what a reconnecting EventSource sends) wins over `after`.
    again = {**alice.headers, "Last-Event-ID": str(history[-2]["id"])}
    assert read_events(alice.client, again, {"after": "0"}) == history[-1:]


def test_filters_by_job_experiment_and_status(alice: Account, short_streams: None):
    other = alice.post("/experiments", {"name": "other"}).json()["id"]
    first = alice.run(circuits_qasm=[BELL_QASM2], shots=5)
    second = alice.run(circuits_qasm=[BELL_QASM2], shots=5, dry_run=True)
    elsewhere = alice.run(circuits_qasm=[BELL_QASM2], shots=5, experiment_id=other)
    for job in (first, second, elsewhere):
        alice.wait_for(job["id"])

    def read(**params: str) -> list[Event]:
        return read_events(alice.client, alice.headers, {"after": "0", **params})

    by_job = read(job_id=first["id"])
    assert [event["data"]["status"] for event in by_job] == ["Queued", "Running", "Done"]
    assert {event["data"]["id"] for event in by_job} == {first["id"]}
    in_experiment = read(experiment_id=alice.experiment_id)
    assert {event["data"]["id"] for event in in_experiment} == {first["id"], second["id"]}
    finished = read(status="Done")
    assert [event["data"]["id"] for event in finished] == [
        first["id"],
        second["id"],
        elsewhere["id"],
    ]
    several = read(status="Queued,Done", experiment_id=other)
    assert [event["data"]["status"] for event in several] == ["Queued", "Done"]
    assert read(status="Error") == []


def test_another_users_jobs_never_appear_and_their_ids_are_not_found(
    alice: Account, bob: Account, short_streams: None
):
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=5)
    alice.wait_for(job["id"])
    assert read_events(bob.client, bob.headers, {"after": "0"}) == []
    for params in ({"job_id": job["id"]}, {"experiment_id": alice.experiment_id}):
        answer = bob.client.get("/events", params=params, headers=bob.headers)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "not_found"
    assert alice.client.get("/events").status_code == 401
    assert alice.client.get("/events", headers={"Authorization": "qk_nobody"}).status_code == 401


@pytest.mark.parametrize(
    "value", ["abc", "-1", "1.5", HUGE, str(2**63), "9" * 4000, "１２".encode()]
)
def test_a_bad_last_event_id_is_a_400_naming_it(alice: Account, value: str | bytes):
    headers: dict[str, str | bytes] = {**alice.headers, "Last-Event-ID": value}
    answer = alice.client.get("/events", headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == {
        "code": "invalid_request",
        "field": "Last-Event-ID",
        "message": answer.json()["error"]["message"],
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": HUGE}, "after"),
        ({"after": str(2**63)}, "after"),
        ({"after": "-1"}, "after"),
        ({"after": "soon"}, "after"),
        ({"status": "Finished"}, "status.0"),
        ({"status": "Done,"}, "status.1"),
        ({"job_id": "x" * 201}, "job_id"),
        ({"experiment": "typo"}, "experiment"),
    ],
)
def test_bad_filters_are_a_422_naming_the_field(alice: Account, params: dict[str, str], field: str):
    answer = alice.client.get("/events", params=params, headers=alice.headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


def test_events_is_in_the_openapi_document(alice: Account):
    operation = alice.client.get("/openapi.json").json()["paths"]["/events"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert names == {"job_id", "experiment_id", "status", "after"}
