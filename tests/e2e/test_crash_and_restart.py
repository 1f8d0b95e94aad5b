"""The server is killed with SIGKILL while a job runs; after a restart the job completes once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from qiskit import qasm3
from qiskit.circuit.library import efficient_su2

from qorch.bootstrap import open_application
from qorch.settings import Settings
from tests.conftest import BELL_QASM2
from tests.e2e.servers import Server, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "data", free_port())
    server.start()
    yield server
    server.stop()


def slow_job_body(experiment_id: str) -> dict[str, object]:
    """A job of a few seconds whose results stay small: 18 qubits x 60 parameter sets."""
    circuit = efficient_su2(18, reps=2)
    sets = [[0.01 * (i + j) for j in range(circuit.num_parameters)] for i in range(60)]
    return {
        "experiment_id": experiment_id,
        "circuits_qasm": [qasm3.dumps(circuit)],
        "parameters": sets,
        "observables": [[["Z" * 18], [1.0]]],
        "shots": 1000,
        "device_id": "aer_simulator_statevector",
    }


def job_event_types(data_dir: Path, job_id: str) -> list[str]:
    app = open_application(Settings(data_dir=data_dir))
    try:
        from uuid import UUID

        events = app.repository.event_store.get(UUID(job_id))
        return [type(event).__qualname__.removeprefix("Job.") for event in events]
    finally:
        app.close()


def a_running_slow_job(server: Server, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Submits the slow job in a new experiment and returns once a worker runs it."""
    experiment = server.call("POST", "/experiments", json={"name": name}).json()
    job = server.call(
        "POST", "/ai/run_circuits_on_qpu_or_simulator", json=slow_job_body(experiment["id"])
    ).json()["job"]
    deadline = time.monotonic() + 60
    while server.call("GET", f"/jobs/{job['id']}").json()["status"] != "Running":
        assert time.monotonic() < deadline, "job never started"
        time.sleep(0.05)
    return experiment, job


def test_a_job_running_when_the_server_is_killed_completes_exactly_once(server: Server):
    experiment, job = a_running_slow_job(server, "crash")

    server.kill()
    assert job_event_types(server.data_dir, job["id"]) == ["Submitted", "Claimed"]
    server.start()

    assert server.keys_printed == 1  # the first-start key is shown once, not on a restart
    assert [e["id"] for e in server.call("GET", "/experiments").json()["experiments"]] == [
        experiment["id"]
    ]
    done = server.call("GET", f"/jobs/{job['id']}", params={"wait": 120}).json()
    assert done["status"] == "Done", done
    assert len(done["quantum_results"][0][0]) == 60
    assert done["attempts"] == 2
    types = job_event_types(server.data_dir, job["id"])
    assert types.count("Executed") == 1
    assert types.count("Claimed") == 2


def test_a_server_stopped_gracefully_releases_its_running_job(server: Server):
    _, job = a_running_slow_job(server, "graceful")

    server.stop()  # SIGTERM: uvicorn shuts down, the executor releases what it holds

    types = job_event_types(server.data_dir, job["id"])
    assert types[:2] == ["Submitted", "Claimed"] and types[-1] == "Released", types
    assert "Failed" not in types and "Executed" not in types
    server.start()
    done = server.call("GET", f"/jobs/{job['id']}", params={"wait": 120}).json()
    assert done["status"] == "Done", done["error"]
    assert job_event_types(server.data_dir, job["id"]).count("Executed") == 1


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[Server]:
    """One user may submit 200 jobs at once (no submit rate, no cap on open jobs); batches of 8
    on two slots, so a kill finds most of them queued or in flight on any machine."""
    env = {
        "QORCH_SUBMIT_RATE": "0",
        "QORCH_MAX_QUEUED_PER_USER": "0",
        "QORCH_LOG_LEVEL": "INFO",
        "QORCH_BATCH_SIZE": "8",
        "QORCH_WORKER_CONCURRENCY": "2",
    }
    server = Server(tmp_path / "data", free_port(), "--no-worker", env=env)
    server.start()
    yield server
    server.stop()


def test_a_batch_of_small_jobs_in_flight_when_the_server_is_killed_ends_done_exactly_once(
    busy_server: Server,
):
    """Small jobs are claimed, run and recorded many at a time (group commit, batches): a kill
    in the middle loses none of them and runs none twice."""
    server = busy_server
    experiment = server.call("POST", "/experiments", json={"name": "batch"}).json()
    body = {
        "experiment_id": experiment["id"],
        "circuits_qasm": [BELL_QASM2],
        "shots": 100,
    }
    job_ids: list[str] = []
    with ThreadPoolExecutor(8) as pool:
        answers = pool.map(
            lambda _: server.call("POST", "/ai/run_circuits_on_qpu_or_simulator", json=body),
            range(200),
        )
        job_ids = [answer.json()["job"]["id"] for answer in answers]
    assert len(set(job_ids)) == 200
    server.stop()  # the jobs were accepted by an API-only server; none has run yet

    server.extra_args = ()  # now with the executor beside the API
    server.start()
    deadline = time.monotonic() + 60
    while server.call("GET", f"/jobs/{job_ids[0]}").json()["status"] != "Done":
        assert time.monotonic() < deadline, "the first job never ran"
    server.kill()  # the first batches are recorded; the others are queued, claimed or running
    statuses = job_statuses(server.data_dir, job_ids)
    assert 0 < statuses["Done"] < 200, statuses
    server.start()

    deadline = time.monotonic() + 120
    for job_id in job_ids:
        done = server.call("GET", f"/jobs/{job_id}", params={"wait": 60}).json()
        assert done["status"] == "Done", done
        assert sum(done["counts"][0].values()) == 100
        assert time.monotonic() < deadline
    for job_id in job_ids:
        assert job_event_types(server.data_dir, job_id).count("Executed") == 1, job_id
    assert any("run together" in line for line in server.output)  # in batches, not one by one


def job_statuses(data_dir: Path, job_ids: list[str]) -> Counter[str]:
    app = open_application(Settings(data_dir=data_dir))
    try:
        from uuid import UUID

        return Counter(str(app.find_job(UUID(job_id)).status) for job_id in job_ids)  # type: ignore[union-attr]
    finally:
        app.close()
