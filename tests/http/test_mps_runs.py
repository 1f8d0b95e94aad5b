"""Exact runs past the dense statevector (issue 14, point 2), on a real qorch: a StatevectorRun
with observables on the matrix-product-state simulator answers exact expectation values of a
60-qubit GHZ-like circuit; what no method can do (every amplitude of 40 qubits) or what would not
fit the job's memory is refused before anything is recorded; and an MPS job too entangled to be
cheap still ends at its job's memory or time limit, and the next job runs."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

from qorch.adapters.quotas import Quotas
from qorch.http.app import create_app
from tests.conftest import BELL_QASM2, Account, new_account, settings_for
from tests.http.test_bad_input import log_position, recorded_by

MPS = "aer_simulator_matrix_product_state"
THETA = 0.7


def ghz_like(qubits: int, theta: float = THETA) -> str:
    """cos(theta/2)|0...0> + sin(theta/2)|1...1>: <Z_0> = cos(theta), <X...X> = sin(theta),
    <Z_0 Z_{n-1}> = 1."""
    chain = "".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(qubits - 1))
    return f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{qubits}];\nry({theta}) q[0];\n{chain}'


def ry_chain(qubits: int) -> str:
    """A dense-simulator circuit with a known value: <Z_0> = cos(0.3)."""
    chain = "".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(1, qubits - 1))
    return (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{qubits}];\nry(0.3) q[0];\nh q[1];\n{chain}'
    )


def brickwork(qubits: int, layers: int, seed: int = 1) -> str:
    """Random single-qubit rotations and alternating CX layers: the bond dimension of a matrix
    product state doubles every layer or so, up to 2^(qubits/2)."""
    rng = np.random.default_rng(seed)
    lines = [f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{qubits}];\n']
    for layer in range(layers):
        for q in range(qubits):
            a, b, c = rng.uniform(0, 2 * math.pi, 3)
            lines.append(f"u3({a:.6f},{b:.6f},{c:.6f}) q[{q}];\n")
        for q in range(layer % 2, qubits - 1, 2):
            lines.append(f"cx q[{q}],q[{q + 1}];\n")
    return "".join(lines)


def pauli(qubits: int, letters: dict[int, str]) -> str:
    """A Pauli label in Qiskit order (qubit 0 is the rightmost character)."""
    return "".join(letters.get(q, "I") for q in reversed(range(qubits)))


def refused(account: Account, **body: Any) -> dict[str, Any]:
    before = log_position(account)
    answer = account.client.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        json={"experiment_id": account.experiment_id, **body},
        headers=account.headers,
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert recorded_by(account, before) == []
    error: dict[str, Any] = answer.json()["error"]
    return error


def test_a_60_qubit_ghz_like_statevector_run_on_mps_gives_exact_expectation_values(
    alice: Account,
):
    n = 60
    observables = [
        [[pauli(n, {0: "Z"})], [1.0]],
        [[pauli(n, dict.fromkeys(range(n), "X"))], [1.0]],
        [[pauli(n, {0: "Z", n - 1: "Z"}), pauli(n, {n - 1: "Z"})], [0.5, 2.0]],
    ]

    job = alice.run(
        circuits_qasm=[ghz_like(n)],
        device_id=MPS,
        run_type="StatevectorRun",
        observables=observables,
    )
    done = alice.wait_for(job["id"], 120)

    assert done["status"] == "Done", done["error"]
    values = done["quantum_results"][0]
    expected = [math.cos(THETA), math.sin(THETA), 0.5 + 2.0 * math.cos(THETA)]
    assert values == pytest.approx(expected, abs=1e-12)
    assert done["info"]["metadata"]["simulator_method"] == "matrix_product_state"


def test_a_40_qubit_statevector_run_without_observables_on_mps_is_refused(alice: Account):
    error = refused(alice, circuits_qasm=[ghz_like(40)], device_id=MPS, run_type="StatevectorRun")

    assert error["field"] == "circuits[0]"
    assert "every amplitude is returned" in error["message"]
    assert "give observables" in error["message"]


def test_the_mps_device_is_listed_for_exact_expectation_values(alice: Account):
    devices = {d["id"]: d for d in alice.get("/devices").json()["devices"]}

    assert devices[MPS]["supports_statevector"] is True
    assert devices[MPS]["statevector_observables_qubits"] == devices[MPS]["qubits"] >= 60
    assert "statevector_observables_qubits" not in devices["aer_simulator_statevector"]


# --- the job's memory and time limits ---


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The default 24-qubit cap; 256 MiB a job, 48 MiB on the MPS device."""
    settings = settings_for(tmp_path_factory.mktemp("bounded")).with_overrides(
        statevector_max_qubits=24,
        quotas=Quotas(
            time_limit=120.0,
            memory_limit_mb=256,
            memory_limits_mb=((MPS, 48),),
            max_running_per_user=2,
        ),
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_dense_statevector_run_over_the_job_memory_limit_is_refused_and_a_smaller_one_runs(
    bounded: TestClient,
):
    account = new_account(bounded)
    z0 = [[pauli(24, {0: "Z"})], [1.0]]

    # 24 qubits: 256 MiB of amplitudes plus the simulator's own, over the 256 MiB limit.
    error = refused(
        account,
        circuits_qasm=[ry_chain(24)],
        device_id="aer_simulator_statevector",
        run_type="StatevectorRun",
        observables=z0,
    )
    assert error["field"] == "circuits[0]"
    assert "job memory limit" in error["message"] and "256 MiB" in error["message"]

    z0 = [[pauli(22, {0: "Z"})], [1.0]]
    job = account.run(
        circuits_qasm=[ry_chain(22)],
        device_id="aer_simulator_statevector",
        run_type="StatevectorRun",
        observables=z0,
    )
    done = account.wait_for(job["id"], 120)
    assert done["status"] == "Done", done["error"]
    assert done["quantum_results"][0][0] == pytest.approx(math.cos(0.3), abs=1e-12)


def test_a_statevector_run_larger_than_the_machine_is_refused(tmp_path):
    settings = settings_for(tmp_path).with_overrides(
        statevector_max_qubits=26,
        machine_memory_mb=512,
        quotas=Quotas(memory_limit_mb=0),  # no job memory limit: the machine bounds the job
    )
    with TestClient(create_app(settings)) as client:
        account = new_account(client)
        # 25 qubits: 512 MiB of amplitudes and the simulator's own on a 512 MiB machine.
        error = refused(
            account,
            circuits_qasm=[ghz_like(25)],
            device_id="aer_simulator_statevector",
            run_type="StatevectorRun",
            observables=[[pauli(25, {0: "Z"})], [1.0]],
        )
    assert error["field"] == "circuits[0]"
    assert "the memory of this machine (512 MiB)" in error["message"]


def test_an_mps_job_too_entangled_for_its_memory_ends_memory_limit_and_the_next_job_runs(
    bounded: TestClient,
):
    account = new_account(bounded)
    n = 24

    job = account.run(
        circuits_qasm=[brickwork(n, 24)],
        device_id=MPS,
        run_type="StatevectorRun",
        observables=[[pauli(n, dict.fromkeys(range(n), "Z"))], [1.0]],
    )
    failed = account.wait_for(job["id"], 120)

    assert failed["status"] == "Error", failed
    assert failed["error"]["code"] == "memory_limit", failed["error"]
    assert [event["type"] for event in failed["events"]].count("Claimed") == 1
    after = account.run(circuits_qasm=[BELL_QASM2], shots=100, device_id=MPS)
    done = account.wait_for(after["id"], 60)
    assert done["status"] == "Done", done["error"]


@pytest.fixture(scope="module")
def hurried(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """3 seconds a job on the MPS device, the default memory limit."""
    settings = settings_for(tmp_path_factory.mktemp("hurried")).with_overrides(
        quotas=Quotas(time_limits=((MPS, 3.0),))
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_an_mps_job_too_entangled_for_its_time_ends_time_limit_and_the_next_job_runs(
    hurried: TestClient,
):
    account = new_account(hurried)
    n = 24

    job = account.run(
        circuits_qasm=[brickwork(n, 24)],
        device_id=MPS,
        run_type="StatevectorRun",
        observables=[[pauli(n, dict.fromkeys(range(n), "Z"))], [1.0]],
    )
    failed = account.wait_for(job["id"], 60)

    assert failed["status"] == "Error", failed
    assert failed["error"]["code"] == "time_limit", failed["error"]
    after = account.run(circuits_qasm=[BELL_QASM2], shots=100, device_id=MPS)
    done = account.wait_for(after["id"], 60)
    assert done["status"] == "Done", done["error"]
