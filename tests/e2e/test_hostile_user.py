"""Mallory, an authenticated user, throws every bad input of issue 11 at a real `qorch serve`;
Bob just runs a Bell job. Bob's job completes within seconds, the API process stays within
100 MB of its idle size, nothing answers 5xx, and the server starts again on the data.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.adapters.test_job_limits import ENDLESS_QASM3, dense
from tests.conftest import BELL_QASM2
from tests.dashboard.test_drawing_limits import wide_circuit
from tests.e2e.servers import TEST_ENV, Server, free_port

pytestmark = pytest.mark.slow

SDK = {"haiqu-sdk-version": "1.7.0"}
TAG = {"_type_": "nope", "_data_": 1}
MB = 1024 * 1024
ENV = {"QORCH_WORKER_CONCURRENCY": "2", "QORCH_JOB_TIME_LIMIT": "60", "QORCH_LOG_LEVEL": "INFO"}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def create_user(data_dir: Path, name: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "qorch", "users", "create", name, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, **TEST_ENV},
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def streamed(megabytes: int) -> Iterator[bytes]:
    chunk = b"x" * MB
    for _ in range(megabytes):
        yield chunk


class User:
    def __init__(self, server: Server, key: str) -> None:
        self.server = server
        self.key = key
        self.http = httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=60)
        answer = self.http.post("/experiments", json={"name": "mine"})
        assert answer.status_code == 201, answer.text
        self.experiment_id = answer.json()["id"]

    def run(self, **body: object) -> httpx.Response:
        body = {"experiment_id": self.experiment_id, **body}
        return self.http.post("/ai/run_circuits_on_qpu_or_simulator", json=body)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "data", free_port(), env=ENV)
    server.start()
    yield server
    server.stop()


def test_a_hostile_user_cannot_break_bloat_or_starve_qorch(server: Server, tmp_path: Path):
    assert server.process is not None
    pid = server.process.pid
    mallory = User(server, server.key)
    bob = User(server, create_user(server.data_dir, "bob"))
    # Idle: one job done, so the worker process and the parser processes exist.
    first = bob.run(circuits_qasm=[BELL_QASM2], shots=10).json()["job"]["id"]
    assert bob.http.get(f"/jobs/{first}", params={"wait": 60}).json()["status"] == "Done"
    idle = rss_mb(pid)
    answers: dict[str, int] = {}

    def refused(name: str, answer: httpx.Response, *statuses: int) -> None:
        answers[name] = answer.status_code
        assert answer.status_code in statuses, (name, answer.status_code, answer.text[:300])

    # 4. Mallory floods the workers: endless loops and 24-qubit jobs.
    flood = [mallory.run(circuits_qasm=[ENDLESS_QASM3], shots=10) for _ in range(3)]
    flood += [
        mallory.run(circuits_qasm=[dense(24)], shots=100_000, device_id="aer_simulator_statevector")
        for _ in range(2)
    ]
    assert all(answer.status_code == 201 for answer in flood)
    # 1. Poisoned log.
    refused(
        "type-tag experiment name",
        mallory.http.put(f"/experiments/{mallory.experiment_id}", json={"name": TAG}, headers=SDK),
        422,
    )
    # 2-3. Register bomb, register expression, nested definitions, 20,000 Pauli terms.
    qasm2 = 'OPENQASM 2.0; include "qelib1.inc"; '
    qasm3 = 'OPENQASM 3.0; include "stdgates.inc"; '
    gates = "gate g0 a {h a;} " + " ".join(
        f"gate g{i} a {{g{i - 1} a; g{i - 1} a;}}" for i in range(1, 61)
    )
    bombs = {
        "register bomb": qasm2 + "qreg q[10000000]; creg c[1]; measure q[0] -> c[0];",
        "register expression": qasm3 + "qubit[10000*1000] q; bit[1] c; c[0] = measure q[0];",
        "2^60 gates": qasm2 + gates + " qreg q[1]; creg c[1]; g60 q[0]; measure q[0] -> c[0];",
    }
    for name, source in bombs.items():
        refused(name, mallory.run(circuits_qasm=[source]), 422)
    terms = [["".join(random.Random(i).choice("IXYZ") for _ in range(20)) for i in range(20_000)]]
    refused(
        "20,000 Pauli terms",
        mallory.run(circuits_qasm=[dense(20)], observables=[terms[0], [1.0] * 20_000]),
        422,
    )
    # 5. 300 MB bodies, with and without a key.
    anonymous = httpx.Client(base_url=server.url, timeout=60)
    for name, client, path in (
        ("300 MB sign-in without a key", anonymous, "/dashboard/sign-in"),
        ("300 MB submit with a key", mallory.http, "/ai/run_circuits_on_qpu_or_simulator"),
    ):
        try:
            answer = client.post(path, content=streamed(300))
        except httpx.HTTPError:  # the server closed the connection after its 413
            answers[name] = 413
        else:
            refused(name, answer, 413)
    # 7. Huge integers; 10. a 1 MB name.
    signed_in = httpx.Client(base_url=server.url, timeout=60, headers={"Origin": server.url})
    signed_in.post("/dashboard/sign-in", data={"api_key": mallory.key})
    refused("page 10^20", signed_in.get("/dashboard/jobs", params={"page": "9" * 20}), 400, 422)
    refused(
        "Last-Event-ID 10^30",
        signed_in.get("/dashboard/events", headers={"Last-Event-ID": "9" * 30}),
        400,
        422,
    )
    refused("1 MB job name", mallory.run(circuits_qasm=[BELL_QASM2], name="x" * MB), 422)
    # 9. A 64-qubit, 30,000-gate circuit's page: a notice, at once.
    stored = mallory.http.post(
        "/ai/submit_circuit_for_analytics",
        json={"experiment_id": mallory.experiment_id, "circuit_qasm": wide_circuit(64, 30_000)},
    )
    assert stored.status_code in (200, 201), stored.text
    started = time.monotonic()
    page = signed_in.get(f"/dashboard/circuits/{stored.json()['circuit']['id']}")
    drawn_in = time.monotonic() - started
    assert page.status_code == 200 and drawn_in < 5.0, (page.status_code, drawn_in)
    # 8. A percent-encoded key in the query string.
    encoded = mallory.key.replace("qk_", "qk%5F")
    assert httpx.get(f"{server.url}/jobs?HAIQU_%41PI_KEY={encoded}").status_code == 200

    # Bob's Bell job, while Mallory's flood runs.
    started = time.monotonic()
    bell = bob.run(circuits_qasm=[BELL_QASM2], shots=1000)
    assert bell.status_code == 201, bell.text
    done = bob.http.get(f"/jobs/{bell.json()['job']['id']}", params={"wait": 60}).json()
    waited = time.monotonic() - started
    grown = rss_mb(pid) - idle
    print(
        f"\nBob's Bell job: {done['status']} {waited:.2f} s after submit, under Mallory's "
        f"{len(flood)} jobs; API RSS {idle:.0f} MB idle, +{grown:.1f} MB after: {answers}"
    )
    assert done["status"] == "Done" and waited < 15.0
    assert grown < 100, grown
    assert mallory.key[3:] not in "".join(server.output)
    for job in flood:
        mallory.http.post(f"/jobs/{job.json()['job']['id']}/cancel")

    # The server starts again on the same data, and every user's reads answer.
    server.stop()
    server.start()
    health = httpx.get(server.url + "/health").json()
    assert health["status"] == "ok", health
    for user in (mallory, bob):
        for path in ("/jobs", "/experiments", f"/experiments/{user.experiment_id}"):
            assert user.http.get(path).status_code == 200, path
