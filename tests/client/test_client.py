"""A program drives qorch with `qorch.client`: it submits without making an experiment first,
waits on the event stream (long-polling a server that has none), reads its jobs, cancels, and
gets typed errors that keep the server's answer."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from qorch.client import (
    AsyncClient,
    BadRequest,
    Client,
    ConnectionFailed,
    NotFound,
    Unauthorized,
    WaitTimeout,
)
from qorch.http import events as events_route
from tests.client.conftest import (
    FOREVER,
    HELD_DEVICE,
    SLOW_DEVICE,
    AsyncRecordingTransport,
    Qorch,
    Recorder,
    RecordingTransport,
    running_qorch,
)
from tests.conftest import BELL_QASM2, RY_CX


def bell(shots: int = 400) -> dict[str, object]:
    return {"circuits_qasm": [BELL_QASM2], "shots": shots}


def long_polls(recorder: Recorder) -> list[str]:
    return [path for _, path, query, _ in recorder.seen if "wait" in query]


def test_a_run_without_an_experiment_goes_to_qorch_client_and_is_awaited_on_the_stream(
    qorch: Qorch,
):
    key = qorch.new_key()
    recorder = Recorder()
    with Client(qorch.url, key, transport=RecordingTransport(recorder)) as client:
        job = client.submit(bell())
        seen: list[str] = []
        done = client.wait(job["id"], timeout=60, on_status=lambda j: seen.append(j["status"]))
        again = client.submit(bell(100))

    assert done["status"] == "Done" and seen[-1] == "Done"
    assert sum(done["counts"][0].values()) == 400
    assert set(done["quantum_results"][0]) <= {"00", "11"}
    assert "/events" in recorder.paths() and long_polls(recorder) == []
    assert recorder.paths().count("/experiments") == 2  # looked for, created; then remembered
    with Client(qorch.url, key) as other:  # another client finds the same experiment by name
        third = other.submit(bell(10))
    answer = httpx.get(f"{qorch.url}/experiments", headers={"Authorization": key})
    experiments = answer.json()["experiments"]
    assert [e["name"] for e in experiments] == ["qorch-client"]
    assert job["experiment_id"] == again["experiment_id"] == third["experiment_id"]


def test_waiting_resumes_the_stream_after_each_reconnect_until_the_job_ends(
    qorch: Qorch, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(events_route, "STREAM_SECONDS", 0.5)  # the server ends streams early
    recorder = Recorder()
    with Client(qorch.url, qorch.new_key(), transport=RecordingTransport(recorder)) as client:
        job = client.submit({"circuits_qasm": [FOREVER], "shots": 1, "device_id": SLOW_DEVICE})
        ended = client.wait(job["id"], timeout=60)

    assert ended["status"] == "Error" and ended["error"]["code"] == "time_limit"
    streams = [(query, last) for _, path, query, last in recorder.seen if path == "/events"]
    assert len(streams) >= 3 and all(
        query == {"job_id": job["id"], "after": "0"} for query, _ in streams
    )
    assert any(last is not None for _, last in streams[1:])  # resumed after what it saw
    assert long_polls(recorder) == []


def test_wait_long_polls_a_server_without_an_event_stream(tmp_path: Path):
    with running_qorch(tmp_path, events=False) as old:
        recorder = Recorder()
        with Client(old.url, old.new_key(), transport=RecordingTransport(recorder)) as client:
            first = client.wait(client.submit(bell())["id"], timeout=60)
            second = client.wait(client.submit(bell())["id"], timeout=60)
            statuses: list[str] = []
            third = client.wait(
                client.submit(bell())["id"], on_status=lambda j: statuses.append(j["status"])
            )

    assert first["status"] == second["status"] == third["status"] == "Done"
    assert sum(second["counts"][0].values()) == 400 and statuses[-1] == "Done"
    assert recorder.paths().count("/events") == 1  # tried once, then remembered
    assert long_polls(recorder)


def test_jobs_are_listed_and_a_running_job_is_cancelled(qorch: Qorch):
    with Client(qorch.url, qorch.new_key()) as client:
        held = client.submit({"circuits_qasm": [FOREVER], "shots": 1, "device_id": HELD_DEVICE})
        with pytest.raises(WaitTimeout) as timed_out:
            client.wait(held["id"], timeout=1.0)
        assert timed_out.value.job["status"] in ("Queued", "Running")
        listed = client.jobs(status=timed_out.value.job["status"], device_id=HELD_DEVICE)
        assert [job["id"] for job in listed] == [held["id"]]

        cancelled = client.cancel(held["id"])
        assert cancelled["status"] == "Cancelled"
        assert client.wait(held["id"], timeout=30)["status"] == "Cancelled"
        assert [job["id"] for job in client.jobs(status="Cancelled")] == [held["id"]]
        assert "aer_simulator" in {device["id"] for device in client.devices()}


def test_errors_keep_the_servers_answer(qorch: Qorch):
    with Client(qorch.url, qorch.new_key()) as alice, Client(qorch.url, qorch.new_key()) as bob:
        with pytest.raises(BadRequest) as refused:
            alice.submit({"circuits_qasm": [BELL_QASM2], "shots": 0})
        assert (refused.value.status, refused.value.code, refused.value.field) == (
            422,
            "invalid_request",
            "shots",
        )
        assert refused.value.body["error"]["field"] == "shots"
        assert refused.value.body["detail"].startswith("shots: ")

        job = alice.submit(bell(10))
        with pytest.raises(NotFound) as hidden:
            bob.job(job["id"])
        assert hidden.value.status == 404 and hidden.value.body["error"]["code"] == "not_found"
        with pytest.raises(NotFound):
            bob.wait(job["id"])
        with pytest.raises(NotFound):
            bob.cancel(job["id"])
        assert alice.wait(job["id"], timeout=60)["status"] == "Done"

    with Client(qorch.url, "qk_not-a-key") as stranger, pytest.raises(Unauthorized) as denied:
        stranger.jobs()
    assert denied.value.status == 401 and denied.value.body["error"]
    with Client("http://127.0.0.1:9", "qk_x") as nowhere, pytest.raises(ConnectionFailed):
        nowhere.devices()


@pytest.mark.anyio
async def test_the_async_client_does_the_same_awaited_and_concurrently(qorch: Qorch):
    recorder = Recorder()
    transport = AsyncRecordingTransport(recorder)
    sweep = {
        "circuits_qasm": [RY_CX],
        "shots": 200,
        "parameters": [[0.0], [3.14159]],
        "observables": [[["ZZ", "XI"], [1.0, 0.5]]],
    }
    async with AsyncClient(qorch.url, qorch.new_key(), transport=transport) as client:
        first, second = await _both(client.submit(sweep), client.submit(bell(50)))
        assert first["experiment_id"] == second["experiment_id"]  # made once, though at once
        statuses: list[str] = []

        async def note(job: dict[str, Any]) -> None:
            statuses.append(str(job["status"]))

        swept, counted = await _both(
            client.wait(first["id"], timeout=60, on_status=note),
            client.wait(second["id"], timeout=60),
        )
        assert swept["status"] == counted["status"] == "Done" and statuses[-1] == "Done"
        values = swept["quantum_results"][0][0]  # circuit 0, observable 0, per parameter set
        assert len(values) == 2 and values[0] == pytest.approx(1.0, abs=0.5)
        assert sum(counted["counts"][0].values()) == 50

        held = await client.submit(
            {"circuits_qasm": [FOREVER], "shots": 1, "device_id": HELD_DEVICE}
        )
        listed = await client.jobs(limit=10)
        assert [job["id"] for job in listed][0] == held["id"]  # newest first
        assert {job["id"] for job in listed} == {held["id"], second["id"], first["id"]}
        assert (await client.cancel(held["id"]))["status"] == "Cancelled"
        assert (await client.wait(held["id"], timeout=30))["status"] == "Cancelled"
        with pytest.raises(BadRequest) as refused:
            await client.submit({"circuits_qasm": [BELL_QASM2], "observables": [["ZZZ"]]})
        assert refused.value.field and refused.value.field.startswith("observables")
        with pytest.raises(NotFound):
            await client.job("no-such-job")
        assert any(device["id"] == "aer_simulator" for device in await client.devices())
    assert recorder.paths().count("/experiments") == 2
    assert "/events" in recorder.paths() and long_polls(recorder) == []


async def _both(
    one: Awaitable[dict[str, Any]], other: Awaitable[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two answers, awaited at the same time."""
    found: dict[int, dict[str, Any]] = {}

    async def run(index: int, call: Awaitable[dict[str, Any]]) -> None:
        found[index] = await call

    async with anyio.create_task_group() as group:
        group.start_soon(run, 0, one)
        group.start_soon(run, 1, other)
    return found[0], found[1]
