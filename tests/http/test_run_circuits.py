"""A user runs circuits through the agent endpoints and reads nested results."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2, qasm3, transpile
from qiskit.circuit import Parameter
from qiskit.circuit.library import QFTGate, efficient_su2
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.transpiler import CouplingMap

from tests.conftest import BELL_QASM2, BELL_QASM3, Account


def five_sigma(p: float, shots: int) -> float:
    return 5 * math.sqrt(p * (1 - p) / shots)


@pytest.mark.parametrize("qasm", [BELL_QASM2, BELL_QASM3], ids=["qasm2", "qasm3"])
def test_bell_circuit_runs_to_done_with_counts_and_probabilities(alice: Account, qasm: str):
    submitted = alice.run(circuits_qasm=[qasm], device_id="aer_simulator", shots=4000)
    assert submitted["status"] in ("Queued", "Running", "Done")

    job = alice.wait_for(submitted["id"])

    assert job["status"] == "Done"
    [distribution] = job["quantum_results"]
    [counts] = job["counts"]
    assert sum(counts.values()) == 4000
    assert set(distribution) <= {"00", "11"}
    for outcome in ("00", "11"):
        assert abs(distribution[outcome] - 0.5) < five_sigma(0.5, 4000)
        assert counts[outcome] / 4000 == pytest.approx(distribution[outcome])


def test_job_id_answered_at_once_with_context_for_agents(alice: Account):
    answer = alice.client.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        json={"experiment_id": alice.experiment_id, "circuits_qasm": [BELL_QASM2]},
        headers=alice.headers,
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["job"]["id"] in body["context"]
    assert "get_job_results_and_status" in body["context"]

    status = alice.client.post(
        "/ai/get_job_results_and_status",
        json={"job_id": body["job"]["id"], "wait": 60},
        headers=alice.headers,
    ).json()
    assert status["job"]["status"] == "Done"
    assert "Done" in status["context"]


def test_bit_order_and_pauli_order_follow_qiskit(alice: Account):
    x_on_qubit_0 = (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nx q[0];\nmeasure q -> c;\n'
    )
    job = alice.wait_for(alice.run(circuits_qasm=[x_on_qubit_0], shots=100)["id"])
    assert job["quantum_results"] == [{"01": 1.0}]

    job = alice.wait_for(
        alice.run(
            circuits_qasm=[x_on_qubit_0],
            observables=[[["IZ"], [1.0]], [["ZI"], [1.0]]],
            run_type="StatevectorRun",
        )["id"]
    )
    assert job["quantum_results"] == [[pytest.approx(-1.0), pytest.approx(1.0)]]


def rotations() -> list[QuantumCircuit]:
    a, b = Parameter("a"), Parameter("b")
    first = QuantumCircuit(2)
    first.ry(a, 0)
    first.cx(0, 1)
    first.rx(b, 1)
    second = QuantumCircuit(2)
    second.h(0)
    second.rz(a, 0)
    second.ry(b, 1)
    second.cz(0, 1)
    return [first, second]


SWEEP = [[0.1, 0.7], [1.3, -0.4], [2.9, 2.2]]
OBSERVABLES: list[list[list[Any]]] = [[["ZZ", "XI"], [1.0, 0.5]], [["IY"], [2.0]]]


def exact_values(circuit: QuantumCircuit) -> np.ndarray:
    """[observable][parameter_set], binding in circuit.parameters order."""
    values = np.zeros((len(OBSERVABLES), len(SWEEP)))
    for p, parameter_set in enumerate(SWEEP):
        state = Statevector(circuit.assign_parameters(parameter_set))
        for o, (labels, coefficients) in enumerate(OBSERVABLES):
            operator = SparsePauliOp.from_list(list(zip(labels, coefficients, strict=True)))
            values[o, p] = state.expectation_value(operator).real
    return values


def test_two_circuits_two_observables_three_parameter_sets_nest_as_2x2x3(alice: Account):
    circuits = rotations()
    job = alice.wait_for(
        alice.run(
            circuits_qasm=[qasm3.dumps(c) for c in circuits],
            parameters=[SWEEP, SWEEP],
            observables=[OBSERVABLES, OBSERVABLES],
            shots=4096,
        )["id"]
    )
    assert job["status"] == "Done", job
    results = np.array(job["quantum_results"])
    errors = np.array(job["info"]["uncertainty"])
    assert results.shape == (2, 2, 3)
    assert errors.shape == (2, 2, 3)
    for c, circuit in enumerate(circuits):
        exact = exact_values(circuit)
        assert np.all(errors[c] > 0)
        assert np.all(np.abs(results[c] - exact) <= 5 * errors[c])


def test_statevector_run_gives_exact_nested_expectation_values(alice: Account):
    circuits = rotations()
    job = alice.wait_for(
        alice.run(
            circuits_qasm=[qasm3.dumps(c) for c in circuits],
            parameters=[SWEEP, SWEEP],
            observables=[OBSERVABLES, OBSERVABLES],
            run_type="StatevectorRun",
        )["id"]
    )
    results = np.array(job["quantum_results"])
    assert results.shape == (2, 2, 3)
    for c, circuit in enumerate(circuits):
        assert np.max(np.abs(results[c] - exact_values(circuit))) < 1e-9


def test_statevector_run_returns_amplitudes_per_parameter_set(alice: Account):
    [circuit, _] = rotations()
    job = alice.wait_for(
        alice.run(
            circuits_qasm=[qasm3.dumps(circuit)],
            parameters=SWEEP,  # one circuit: [parameter_set][value] is accepted
            run_type="StatevectorRun",
        )["id"]
    )
    [per_set] = job["quantum_results"]
    assert len(per_set) == 3
    for (re, im), parameter_set in zip(per_set, SWEEP, strict=True):
        expected = Statevector(circuit.assign_parameters(parameter_set)).data
        assert np.max(np.abs(np.array(re) + 1j * np.array(im) - expected)) < 1e-9


def library_circuits() -> list[QuantumCircuit]:
    ghz = QuantumCircuit(3)
    ghz.h(0)
    ghz.cx(0, 1)
    ghz.cx(1, 2)
    mixed = QuantumCircuit(3)
    mixed.h([0, 1, 2])
    mixed.cp(0.3, 0, 1)
    mixed.p(0.2, 2)
    mixed.u(0.1, 0.2, 0.3, 1)
    mixed.swap(0, 2)
    mixed.rzz(0.4, 1, 2)
    mixed.sx(0)
    qft = QuantumCircuit(3)
    qft.append(QFTGate(3), [0, 1, 2])
    qft = qft.decompose(reps=3)
    su2 = efficient_su2(3, reps=1)
    su2 = su2.assign_parameters(np.linspace(0.1, 1.2, su2.num_parameters))
    return [ghz, mixed, qft, su2]


def exact_probabilities(circuit: QuantumCircuit) -> dict[str, float]:
    return {k: v for k, v in Statevector(circuit).probabilities_dict().items() if v > 1e-12}


def assert_same_probabilities(found: dict[str, float], expected: dict[str, float]) -> None:
    for outcome in set(found) | set(expected):
        assert abs(found.get(outcome, 0.0) - expected.get(outcome, 0.0)) < 1e-9, outcome


@pytest.mark.parametrize("index", range(4))
def test_qiskit_written_qasm_runs_and_matches_exact_probabilities(alice: Account, index: int):
    circuit = library_circuits()[index]
    transpiled = transpile(
        circuit,
        basis_gates=["rz", "sx", "x", "cx"],
        coupling_map=CouplingMap.from_full(circuit.num_qubits),
        initial_layout=list(range(circuit.num_qubits)),
        optimization_level=0,
    )
    sources = [qasm2.dumps(circuit), qasm3.dumps(circuit), qasm3.dumps(transpiled)]
    assert "$0" in sources[2]
    job = alice.wait_for(alice.run(circuits_qasm=sources, run_type="StatevectorRun")["id"])
    assert job["status"] == "Done", job
    expected = exact_probabilities(circuit)
    for probabilities in job["info"]["probabilities"]:
        assert_same_probabilities(probabilities, expected)


def test_same_qasm_twice_is_one_stored_circuit_that_runs_by_id(alice: Account):
    first = alice.run(circuits_qasm=[BELL_QASM2, BELL_QASM2])
    second = alice.run(circuits_qasm=[BELL_QASM2 + "\n\n"])
    [circuit_id] = set(first["circuit_ids"]) | set(second["circuit_ids"])

    by_id = alice.wait_for(alice.run(circuit_ids=[circuit_id], shots=500)["id"])
    assert by_id["status"] == "Done"
    assert sum(by_id["counts"][0].values()) == 500
    stored = alice.get(f"/circuits/{circuit_id}").json()
    assert stored["qasm"] == BELL_QASM2
    assert stored["metrics"]["gates_2q"] == 1
    listed = alice.get(f"/experiments/{alice.experiment_id}/circuits").json()["circuits"]
    assert [c["id"] for c in listed] == [circuit_id]


def test_parameter_sweep_without_observables_nests_distributions(alice: Account):
    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.ry(theta, 0)
    circuit.measure_all()
    job = alice.wait_for(
        alice.run(circuits_qasm=[qasm3.dumps(circuit)], parameters=[[0.0], [math.pi]], shots=200)[
            "id"
        ]
    )
    assert job["quantum_results"] == [[{"0": 1.0}, {"1": 1.0}]]
    assert job["counts"] == [[{"0": 200}, {"1": 200}]]


def test_dry_run_estimates_without_executing(alice: Account):
    job = alice.wait_for(alice.run(circuits_qasm=[BELL_QASM3], dry_run=True)["id"])
    assert job["status"] == "Done"
    assert job["quantum_results"] == []
    cost = job["estimated_qpu_cost"]
    assert cost["converted"] == {"amount": 0.0, "unit": "USD"}
    assert cost["native"]["unit"] == "s"
    assert cost["circuits"][0]["qubits"] == 2
    assert "Executed" not in [event["type"] for event in job["events"]]


def test_noisy_simulator_of_a_real_device_runs(alice: Account):
    job = alice.wait_for(
        alice.run(circuits_qasm=[BELL_QASM2], device_id="fake_manila", shots=4000)["id"]
    )
    assert job["status"] == "Done", job
    [distribution] = job["quantum_results"]
    assert distribution.get("00", 0) + distribution.get("11", 0) > 0.8
    assert distribution.get("01", 0) + distribution.get("10", 0) > 0  # noise shows


def test_cancelling_a_finished_job_is_a_conflict(alice: Account):
    job = alice.wait_for(alice.run(circuits_qasm=[BELL_QASM2], dry_run=True)["id"])
    answer = alice.post(f"/jobs/{job['id']}/cancel", {})
    assert answer.status_code == 409
    assert "already Done" in answer.json()["error"]["message"]


def test_an_idempotency_key_makes_a_retried_submit_answer_the_same_job(alice: Account):
    body = {"experiment_id": alice.experiment_id, "circuits_qasm": [BELL_QASM2], "shots": 64}
    headers = {**alice.headers, "Idempotency-Key": "retry-1"}
    first = alice.client.post("/ai/run_circuits_on_qpu_or_simulator", json=body, headers=headers)
    again = alice.client.post("/ai/run_circuits_on_qpu_or_simulator", json=body, headers=headers)
    assert first.json()["job"]["id"] == again.json()["job"]["id"]
    other = alice.client.post(
        "/ai/run_circuits_on_qpu_or_simulator", json={**body, "shots": 65}, headers=headers
    )
    assert other.status_code == 409
    without_key = alice.run(circuits_qasm=[BELL_QASM2], shots=64)
    assert without_key["id"] != first.json()["job"]["id"]
