"""A program follows `GET /events`; the server is killed while it reads, its jobs change while
the server is down (a worker runs some, a second API process cancels one), and after the
restart the program reconnects with its last event id: it gets every change it had not seen,
none twice, exactly the status changes the event log holds."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from qorch.bootstrap import open_application
from qorch.domain.job import STATUS_AFTER
from qorch.settings import Settings
from tests.conftest import BELL_QASM2
from tests.e2e.servers import Server, free_port, start_worker, stop
from tests.e2e.test_crash_and_restart import job_statuses

pytestmark = pytest.mark.slow
Event = dict[str, Any]
TIMEOUT = httpx.Timeout(10, read=60)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """An API process without an executor: a separate worker runs the jobs."""
    server = Server(tmp_path / "data", free_port(), "--no-worker")
    server.start()
    yield server
    server.stop()


def parsed(lines: Iterator[str]) -> Iterator[Event]:
    """The events of a text/event-stream, comments (keep-alives) left out."""
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        if "data" in fields:
            yield {"id": int(fields["id"]), "job": json.loads(fields["data"])}
        fields = {}


def read(server: Server, count: int, last_event_id: int) -> list[Event]:
    """The next `count` events after `last_event_id` (as a reconnecting client asks)."""
    headers = {"Authorization": server.key, "Last-Event-ID": str(last_event_id)}
    with httpx.stream("GET", server.url + "/events", headers=headers, timeout=TIMEOUT) as answer:
        assert answer.status_code == 200, answer.read()
        return list(islice(parsed(answer.iter_lines()), count))


def submit(server: Server, experiment_id: str) -> str:
    body = {"experiment_id": experiment_id, "circuits_qasm": [BELL_QASM2], "shots": 10}
    answer = server.call("POST", "/ai/run_circuits_on_qpu_or_simulator", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["job"]["id"])


def logged_statuses(data_dir: Path, job_id: str) -> list[str]:
    """The statuses the job's events in the log set, in order: the truth the stream must tell."""
    app = open_application(Settings(data_dir=data_dir))
    try:
        kinds: list[Any] = [type(e) for e in app.repository.event_store.get(UUID(job_id))]
        return [STATUS_AFTER[kind].value for kind in kinds if kind in STATUS_AFTER]
    finally:
        app.close()


def wait_until_final(data_dir: Path, job_ids: list[str]) -> None:
    deadline = time.monotonic() + 120
    while set(job_statuses(data_dir, job_ids)) - {"Done", "Cancelled", "Error"}:
        assert time.monotonic() < deadline, job_statuses(data_dir, job_ids)
        time.sleep(0.2)


def test_events_resume_after_a_server_restart_with_no_change_missed_and_none_twice(
    server: Server, tmp_path: Path
):
    data_dir = server.data_dir
    experiment_id = server.call("POST", "/experiments", json={"name": "events"}).json()["id"]
    worker = start_worker(data_dir)
    try:
        first = submit(server, experiment_id)
        received = read(server, 3, last_event_id=0)  # Queued, Running, Done
    finally:
        stop(worker)
    later = [submit(server, experiment_id) for _ in range(3)]  # queued: no worker runs now

    # The client follows the stream; the server is killed while it reads.
    headers = {"Authorization": server.key, "Last-Event-ID": str(received[-1]["id"])}
    with httpx.stream("GET", server.url + "/events", headers=headers, timeout=TIMEOUT) as answer:
        events = parsed(answer.iter_lines())
        received += list(islice(events, 3))  # the three Queued
        server.kill()
        with pytest.raises(httpx.HTTPError):
            received += list(events)  # the connection drops

    # Meanwhile a second API process cancels one job and a worker runs the others.
    other = Server(data_dir, free_port(), "--no-worker")
    other.start()
    try:
        other.key = server.key
        answer = other.call("POST", f"/jobs/{later[0]}/cancel")
        assert answer.status_code == 200, answer.text
    finally:
        other.stop()
    worker = start_worker(data_dir)
    try:
        wait_until_final(data_dir, [first, *later])
    finally:
        stop(worker)

    server.start()  # the same API process, restarted: its views catch up from the log
    missed = 1 + 2 * 2  # Cancelled; Running and Done of two jobs
    received += read(server, missed, last_event_id=received[-1]["id"])

    ids = [event["id"] for event in received]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # in log order, none twice
    for job_id in (first, *later):
        streamed = [event["job"]["status"] for event in received if event["job"]["id"] == job_id]
        assert streamed == logged_statuses(data_dir, job_id), job_id
    assert [event["job"]["status"] for event in received if event["job"]["id"] == later[0]] == [
        "Queued",
        "Cancelled",
    ]
    # Read again from the start, the whole history is exactly what the client pieced together.
    assert read(server, len(received), last_event_id=0) == received


def test_a_server_shutting_down_ends_its_open_streams_at_once(server: Server):
    headers = {"Authorization": server.key}
    with httpx.stream("GET", server.url + "/events", headers=headers, timeout=TIMEOUT) as answer:
        assert answer.status_code == 200
        started = time.monotonic()
        server.stop()  # SIGTERM: uvicorn waits for open connections before it exits
        # A graceful shutdown (uvicorn exits by the signal it shut down on, or 0), not SIGKILL
        assert server.process is not None and server.process.returncode in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 5, "the open stream held the shutdown"
