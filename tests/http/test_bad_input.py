"""Bad input answers a 4xx that names the field and the problem, and records nothing."""

from __future__ import annotations

from typing import Any

import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter

from tests.conftest import BELL_QASM2, Account

TYPO_ON_LINE_5 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nhh q[0];\n'
NO_MEASURE = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\n'


def wide_circuit(qubits: int) -> str:
    circuit = QuantumCircuit(qubits)
    circuit.h(range(qubits))
    circuit.measure_all()
    return qasm3.dumps(circuit)


def one_parameter_circuit(qubits: int = 1) -> str:
    circuit = QuantumCircuit(qubits)
    circuit.h(range(qubits))
    circuit.ry(Parameter("theta"), 0)
    circuit.measure_all()
    return qasm3.dumps(circuit)


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("malformed QASM", {"circuits_qasm": [TYPO_ON_LINE_5]}, "circuits_qasm[0]", "line 5"),
    (
        "unknown device",
        {"circuits_qasm": [BELL_QASM2], "device_id": "no_such_qpu"},
        "device_id",
        "unknown device",
    ),
    ("zero shots", {"circuits_qasm": [BELL_QASM2], "shots": 0}, "shots", "greater than"),
    (
        "both circuit inputs",
        {"circuits_qasm": [BELL_QASM2], "circuit_ids": ["x"]},
        "circuit_ids/circuits_qasm",
        "exactly one",
    ),
    ("neither circuit input", {}, "circuit_ids/circuits_qasm", "exactly one"),
    (
        "wrong number of parameter values",
        {"circuits_qasm": [one_parameter_circuit()], "parameters": [[0.1, 0.2]]},
        "parameters[0][0]",
        "has 2 values but circuits[0] has 1 parameters",
    ),
    (
        "missing parameter values",
        {"circuits_qasm": [one_parameter_circuit()]},
        "parameters",
        "theta",
    ),
    (
        "observable of the wrong length",
        {"circuits_qasm": [BELL_QASM2], "observables": [[["ZZZ"], [1.0]]]},
        "observables[0][0]",
        "length 3",
    ),
    (
        "bad Pauli letter",
        {"circuits_qasm": [BELL_QASM2], "observables": [[["ZQ"], [1.0]]]},
        "observables[0][0]",
        "I, X, Y, Z",
    ),
    (
        "unknown circuit id",
        {"circuit_ids": ["5f1f0a59-9f0c-4a5e-9d0b-111111111111"]},
        "circuit_ids[0]",
        "unknown circuit",
    ),
    (
        "StatevectorRun over the cap",
        {"circuits_qasm": [wide_circuit(13)], "run_type": "StatevectorRun"},
        "circuits[0]",
        "capped at 12 qubits",
    ),
    (
        "circuit wider than the device",
        {"circuits_qasm": [wide_circuit(6)], "device_id": "fake_manila"},
        "circuits[0]",
        "has 6 qubits but device fake_manila has 5",
    ),
    ("no measurements in a Run", {"circuits_qasm": [NO_MEASURE]}, "circuits[0]", "no measurements"),
    ("unknown run type", {"circuits_qasm": [BELL_QASM2], "run_type": "Fast"}, "run_type", "Run"),
    ("unknown field", {"circuits_qasm": [BELL_QASM2], "shot": 10}, "shot", "unknown field"),
    (
        "unknown backend option",
        {"circuits_qasm": [BELL_QASM2], "options": {"foo": 1}},
        "options.foo",
        "not supported by local simulators",
    ),
    (
        "ill-typed backend option",
        {"circuits_qasm": [BELL_QASM2], "options": {"seed_simulator": "abc"}},
        "options.seed_simulator",
        "expected an integer",
    ),
    (
        "even ZNE scale factor",
        {
            "circuits_qasm": [BELL_QASM2],
            "device_id": "fake_manila",
            "use_mitigation": True,
            "options": {"zne_scale_factors": [1, 2, 3]},
        },
        "options.zne_scale_factors",
        "2 is not allowed",
    ),
    (
        "ZNE option without mitigation",
        {
            "circuits_qasm": [BELL_QASM2],
            "device_id": "fake_manila",
            "options": {"zne_extrapolation": "linear"},
        },
        "options.zne_extrapolation",
        "only with use_mitigation",
    ),
    (
        "a huge coefficient",
        {"circuits_qasm": [BELL_QASM2], "observables": [[["ZZ"], [1e308]]]},
        "observables[0][0]",
        "at most",
    ),
    (
        "an integer too big for a float",
        {"circuits_qasm": [one_parameter_circuit()], "parameters": [[10**400]]},
        "parameters[0][0]",
        "out of range",
    ),
    (
        "results too large to hold",
        {"circuits_qasm": [one_parameter_circuit(12)], "shots": 4096, "parameters": [[0.1]] * 400},
        "parameters",
        "the results would hold",
    ),
    (
        "several parameter sets for a circuit without parameters",
        {"circuits_qasm": [BELL_QASM2], "parameters": [[], []]},
        "parameters[0]",
        "has no parameters",
    ),
]


def recorded_by(account: Account, after: int) -> list[str]:
    app = account.client.app.state.service.app  # type: ignore[attr-defined]
    events = [
        app.mapper.to_domain_event(n)
        for n in app.recorder.select_notifications(
            start=after, limit=10_000, inclusive_of_start=False
        )
    ]
    return [
        type(e).__qualname__ for e in events if str(getattr(e, "user_id", "")) == account.user_id
    ]


def log_position(account: Account) -> int:
    return account.client.app.state.service.app.recorder.max_notification_id() or 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(("case", "body", "field", "problem"), CASES, ids=[c[0] for c in CASES])
def test_bad_run_request_is_refused_and_leaves_nothing_behind(
    alice: Account, case: str, body: dict[str, Any], field: str, problem: str
):
    before = log_position(alice)
    answer = alice.client.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        json={"experiment_id": alice.experiment_id, **body},
        headers=alice.headers,
    )
    assert 400 <= answer.status_code < 500, answer.text
    error = answer.json()["error"]
    assert error["field"] == field
    assert problem in error["message"]
    assert recorded_by(alice, before) == []
    assert alice.get("/jobs").json()["jobs"] == []
    assert alice.get(f"/experiments/{alice.experiment_id}/circuits").json()["circuits"] == []


def test_malformed_json_is_a_400(alice: Account):
    answer = alice.client.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        content=b'{"experiment_id": ',
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["error"]["message"]


def test_malformed_qasm_error_carries_the_parser_line(alice: Account):
    answer = alice.client.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        json={"experiment_id": alice.experiment_id, "circuits_qasm": [BELL_QASM2, TYPO_ON_LINE_5]},
        headers=alice.headers,
    )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("circuits_qasm[1]: line 5")


def test_unknown_experiment_is_refused(alice: Account):
    answer = alice.client.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        json={"experiment_id": "nope", "circuits_qasm": [BELL_QASM2]},
        headers=alice.headers,
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "experiment_id"
