"""The server is killed with SIGKILL while a job runs; after a restart the job completes once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from qiskit import qasm3
from qiskit.circuit.library import efficient_su2

from qorch.service import open_application
from qorch.settings import Settings

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.key = ""
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "QORCH_POLL_INTERVAL": "0.05",
            "QORCH_LEASE_SECONDS": "30",
            "QORCH_LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qorch",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        lines: list[str] = []
        while True:
            line = self.process.stdout.readline()
            assert line, "server exited:\n" + "".join(lines)
            lines.append(line)
            if "shown once" in line:
                self.key = self.process.stdout.readline().strip()
            if line.startswith("qorch serving on"):
                break
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("server did not become healthy")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)  # the server only; its worker processes live on
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, self.url + path, headers={"Authorization": self.key}, timeout=130, **kwargs
        )  # type: ignore[arg-type]


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


def test_a_job_running_when_the_server_is_killed_completes_exactly_once(server: Server):
    experiment = server.call("POST", "/experiments", json={"name": "crash"}).json()
    job = server.call(
        "POST", "/ai/run_circuits_on_qpu_or_simulator", json=slow_job_body(experiment["id"])
    ).json()["job"]
    deadline = time.monotonic() + 60
    while server.call("GET", f"/jobs/{job['id']}").json()["status"] != "Running":
        assert time.monotonic() < deadline, "job never started"
        time.sleep(0.05)

    server.kill()
    assert job_event_types(server.data_dir, job["id"]) == ["Submitted", "Claimed"]
    server.start()

    done = server.call("GET", f"/jobs/{job['id']}", params={"wait": 120}).json()
    assert done["status"] == "Done", done
    assert len(done["quantum_results"][0][0]) == 60
    assert done["attempts"] == 2
    types = job_event_types(server.data_dir, job["id"])
    assert types.count("Executed") == 1
    assert types.count("Claimed") == 2
