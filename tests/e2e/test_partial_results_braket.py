"""A user's three circuits on Amazon Braket (the real SDK against the loopback fake), one of
whose tasks fails: the job ends Done with the other two circuits' results, says it is partial,
and holds the failed task's error in that circuit's place; when every task fails it ends Error."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BELL_QASM2, GHZ3_QASM2
from tests.e2e.servers import Server, free_port
from tests.e2e.test_providers import AWS, AWS_KEY_ID, Client, provider_env
from tests.fakes.braket_api import FakeBraket
from tests.fakes.ionq_api import FakeIonQ

pytestmark = pytest.mark.slow

FLIP_QUBIT_0 = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2]; x q[0]; measure q -> c;'
CIRCUITS = [BELL_QASM2, FLIP_QUBIT_0, GHZ3_QASM2]
EXPECTED_OUTCOMES = [{"00", "11"}, {"01"}, {"000", "111"}]
REASON = "InternalError: the device went offline during the task"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, FakeBraket]]:
    with FakeBraket(accepted_keys={AWS_KEY_ID}) as braket, FakeIonQ("unused") as ionq:
        running = Server(tmp_path, free_port(), env=provider_env(braket, ionq))
        running.start()
        try:
            yield running, braket
        finally:
            running.stop()


def run_three(client: Client) -> dict[str, Any]:
    experiment = client.experiment()
    answer = client.call(
        "POST",
        "/ai/run_circuits_on_qpu_or_simulator",
        json={
            "experiment_id": experiment,
            "circuits_qasm": CIRCUITS,
            "device_id": "braket_sv1",
            "shots": 300,
            "options": AWS,
        },
    )
    assert answer.status_code == 201, answer.text
    return client.final(answer.json()["job"]["id"])


def test_one_failed_task_of_three_keeps_the_other_results(server: tuple[Server, FakeBraket]):
    running, braket = server
    braket.fail_next_tasks(1, REASON)
    job = run_three(Client(running))

    assert braket.task_count == 3
    assert (job["status"], job["partial"], job["failed_executions"]) == ("Done", True, 1)
    [failed] = [i for i, error in enumerate(job["errors"]) if error is not None]
    assert job["quantum_results"][failed] == {} and job["counts"][failed] == {}
    assert job["errors"][failed]["code"] == "provider_failed"
    assert "device went offline" in job["errors"][failed]["message"]
    for i, distribution in enumerate(job["quantum_results"]):
        if i != failed:
            assert set(distribution) <= EXPECTED_OUTCOMES[i]
            assert math.isclose(sum(distribution.values()), 1.0)


def test_every_task_failed_ends_the_job_in_error(server: tuple[Server, FakeBraket]):
    running, braket = server
    braket.fail_next_tasks(3, REASON)
    job = run_three(Client(running))

    assert (job["status"], job["partial"], job["quantum_results"]) == ("Error", False, None)
    assert "device went offline" in job["error"]["message"]
