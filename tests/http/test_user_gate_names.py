"""A user submits a circuit that defines its own gate named `unitary` (what qiskit.qasm3.dumps
writes for every matrix gate): the job runs, and its results are those of the same circuit with
the gate under another name."""

from __future__ import annotations

import re

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit.library import UnitaryGate
from qiskit.quantum_info import Operator, Statevector

from tests.conftest import Account

QASM2_UNITARY = """OPENQASM 2.0;
include "qelib1.inc";
gate unitary a { u3(1.1, 0.3, 0.2) a; }
qreg q[2];
creg c[2];
unitary q[0];
cx q[0],q[1];
measure q -> c;
"""


def circuit(measured: bool) -> QuantumCircuit:
    """A matrix gate, then a CNOT."""
    built = QuantumCircuit(2, 2)
    built.append(UnitaryGate(Operator.from_label("H").compose(Operator.from_label("T"))), [0])
    built.ry(0.4, 0)
    built.cx(0, 1)
    if measured:
        built.measure([0, 1], [0, 1])
    return built


def exported_qasm3(measured: bool) -> str:
    """The circuit as qiskit.qasm3.dumps writes it (`gate unitary ...`)."""
    source = qasm3.dumps(circuit(measured))
    assert "gate unitary" in source
    return source


def renamed(source: str) -> str:
    return re.sub(r"\bunitary\b", "my_matrix", source)


def results(account: Account, source: str, **body: object) -> dict:
    job = account.wait_for(account.run(circuits_qasm=[source], **body)["id"])
    assert job["status"] == "Done", job
    return job


@pytest.mark.parametrize(
    "source", [QASM2_UNITARY, exported_qasm3(measured=True)], ids=["qasm2", "qasm3-dumps"]
)
def test_counts_equal_those_of_the_gate_under_another_name(alice: Account, source: str):
    seeded = {"shots": 2000, "options": {"seed_simulator": 7, "seed_transpiler": 7}}

    mine = results(alice, source, **seeded)
    other = results(alice, renamed(source), **seeded)

    assert mine["counts"] == other["counts"]
    assert set(mine["counts"][0]) == {"00", "11"}  # the CNOT copies the gate's outcome


@pytest.mark.parametrize("device_id", ["aer_simulator", "braket_sv"])
def test_the_exact_state_equals_that_of_the_gate_under_another_name(alice: Account, device_id: str):
    source = exported_qasm3(measured=False)
    exact = {"run_type": "StatevectorRun", "device_id": device_id}

    mine = results(alice, source, **exact)["quantum_results"]
    other = results(alice, renamed(source), **exact)["quantum_results"]

    np.testing.assert_allclose(mine, other, atol=1e-12)
    [[real, imaginary]] = mine
    expected = Statevector(circuit(measured=False))
    np.testing.assert_allclose(np.array(real) + 1j * np.array(imaginary), expected.data, atol=1e-9)
