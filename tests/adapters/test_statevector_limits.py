"""Exact runs past the dense statevector in the local provider (issue 14, point 2): the matrix
product state runs a StatevectorRun with observables without truncation, up to its qubits; a
full state stays within the dense qubits; and the server knows how much memory its machine has."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2
from qiskit.quantum_info import SparsePauliOp, Statevector

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.local import build, catalogue, client
from qorch.bootstrap import limits_from
from qorch.domain.execution import CircuitTask, ExecutionTask, ObservableSpec, ProviderError
from qorch.domain.statevector import OBSERVABLES_QUBITS
from qorch.settings import Settings, machine_memory_mb, settings_from_env

MPS = "aer_simulator_matrix_product_state"
LOCAL = build(ProviderConfig())
DEVICES = {device.id: device for device in LOCAL.devices()}


def statevector_task(source: str, observables: list[SparsePauliOp] | None) -> ExecutionTask:
    specs = None
    if observables is not None:
        specs = tuple(
            ObservableSpec(tuple(o.paulis.to_labels()), tuple(float(c.real) for c in o.coeffs))
            for o in observables
        )
    return ExecutionTask("job", MPS, "StatevectorRun", 1, (CircuitTask(source, None, specs),))


def brickwork(qubits: int, layers: int, seed: int = 5) -> QuantumCircuit:
    rng = np.random.default_rng(seed)
    circuit = QuantumCircuit(qubits)
    for layer in range(layers):
        for q in range(qubits):
            circuit.u(*rng.uniform(0, 2 * math.pi, 3), q)
        for q in range(layer % 2, qubits - 1, 2):
            circuit.cx(q, q + 1)
    return circuit


def test_the_mps_simulator_discards_nothing_for_a_threshold_or_a_bond_dimension():
    options = client.simulator(MPS).options

    assert options.matrix_product_state_truncation_threshold == 0.0
    assert options.matrix_product_state_max_bond_dimension is None


def test_a_maximally_entangled_mps_run_equals_the_exact_statevector():
    # 10 qubits, 12 layers: the bond dimension reaches its full 2^5, nothing may be cut.
    circuit = brickwork(10, 12)
    observables = [
        SparsePauliOp("Z" * 10),
        SparsePauliOp(["XXIIIIIIII", "IIIIYZIIII", "IIIIIIIIXY"], [0.5, -1.0, 2.0]),
    ]
    exact = Statevector(circuit)

    outcome = LOCAL.run(statevector_task(qasm2.dumps(circuit), observables), DEVICES[MPS], {})

    values = [row[0] for row in outcome.circuits[0].expectation_values or []]
    expected = [float(exact.expectation_value(o).real) for o in observables]
    assert values == pytest.approx(expected, abs=1e-10)
    assert outcome.metadata["simulator_method"] == "matrix_product_state"
    assert outcome.metadata["precision"] == 0.0


def test_a_60_qubit_ghz_like_circuit_gets_exact_values_on_the_mps_device():
    n, theta = 60, 0.7
    circuit = QuantumCircuit(n)
    circuit.ry(theta, 0)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    observables = [SparsePauliOp("I" * (n - 1) + "Z"), SparsePauliOp("X" * n)]

    outcome = LOCAL.run(statevector_task(qasm2.dumps(circuit), observables), DEVICES[MPS], {})

    values = [row[0] for row in outcome.circuits[0].expectation_values or []]
    assert values == pytest.approx([math.cos(theta), math.sin(theta)], abs=1e-12)


def test_the_mps_device_returns_a_full_state_only_within_the_dense_qubits():
    small = QuantumCircuit(3)
    small.h(0)
    small.cx(0, 1)
    small.cx(1, 2)

    outcome = LOCAL.run(statevector_task(qasm2.dumps(small), None), DEVICES[MPS], {})
    [(re, im)] = outcome.circuits[0].statevectors or []
    assert np.allclose(np.array(re) + 1j * np.array(im), Statevector(small).data, atol=1e-12)

    wide = QuantumCircuit(30)
    wide.h(0)
    with pytest.raises(ProviderError) as raised:
        LOCAL.run(statevector_task(qasm2.dumps(wide), None), DEVICES[MPS], {})
    assert raised.value.code == "device_too_small"


def test_the_catalogue_offers_the_mps_device_for_exact_expectation_values():
    mps = DEVICES[MPS]

    assert mps.supports_statevector
    assert mps.extra[OBSERVABLES_QUBITS] == mps.qubits == 63
    dense = catalogue.find_local_device("aer_simulator_statevector")
    assert dense is not None and OBSERVABLES_QUBITS not in dense.extra


def test_a_dry_run_on_the_mps_device_prices_its_sites_not_2_to_the_60():
    n = 60
    circuit = QuantumCircuit(n)
    circuit.h(0)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    task = statevector_task(qasm2.dumps(circuit), [SparsePauliOp("Z" * n)])

    estimate = LOCAL.estimate(task, DEVICES[MPS])

    assert 0 < estimate.seconds < 1


# --- how much memory the machine has ---


def test_the_server_knows_its_machines_memory_and_an_operator_may_set_it():
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20

    assert 0 < machine_memory_mb() <= physical
    assert limits_from(Settings()).machine_memory_mb == machine_memory_mb()
    set_by_hand = settings_from_env({"QORCH_MACHINE_MEMORY_MB": "2048"})
    assert limits_from(set_by_hand).machine_memory_mb == 2048


@pytest.mark.parametrize(
    ("own", "files", "expected"),
    [
        ("0::/job\n", {"job/memory.max": str(512 * 2**20)}, 512),
        ("0::/\n", {"memory.max": "max\n"}, None),
        (
            "4:memory:/box/one\n1:cpu:/\n",
            {"memory/box/one/memory.limit_in_bytes": str(768 * 2**20)},
            768,
        ),
        ("4:memory:/\n", {"memory/memory.limit_in_bytes": "9223372036854771712"}, None),
    ],
    ids=["cgroup v2 limit", "cgroup v2 unlimited", "cgroup v1 limit", "cgroup v1 unlimited"],
)
def test_a_containers_memory_limit_is_the_machines_memory(
    tmp_path: Path, own: str, files: dict[str, str], expected: int | None
):
    (tmp_path / "self-cgroup").write_text(own)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    found = machine_memory_mb(tmp_path, tmp_path / "self-cgroup")

    assert found == (expected if expected is not None else machine_memory_mb(tmp_path / "none"))
