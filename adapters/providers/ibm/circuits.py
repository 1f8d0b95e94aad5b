"""A task's circuits checked, then transpiled to a device's ISA with observables laid out.

Circuits are transpiled with a preset pass manager (`optimization_level`, default 1;
`seed_transpiler`, default fixed, so a retried submit and a dry run lay circuits out exactly as
the run does): cached for a calibration snapshot, fresh for a live QPU, whose target changes
with each calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qorch.adapters.providers.ibm.catalogue import max_shots
from qorch.adapters.providers.ibm.options import IbmOptions, check_run_type
from qorch.adapters.providers.pipeline.circuits import (
    Transpiled,
    pauli_operators,
    run_circuit,
    transpiled,
)
from qorch.adapters.providers.pipeline.passes import pass_manager
from qorch.domain.devices import Device
from qorch.domain.execution import ExecutionTask, ProviderError

if TYPE_CHECKING:
    import numpy as np
    from qiskit import QuantumCircuit
    from qiskit.providers import BackendV2
    from qiskit.quantum_info import SparsePauliOp


@dataclass
class Loaded:
    index: int
    circuit: QuantumCircuit
    """As parsed; final measurements removed if estimating."""
    values: np.ndarray
    observables: list[SparsePauliOp] | None
    labels: list[str]
    """Every Pauli label of the observables (logical order), for counting measurement bases."""


@dataclass
class Prepared:
    index: int
    labels: list[str]
    transpiled: Transpiled
    """On the device's physical qubits; final measurements removed if estimating."""

    @property
    def isa(self) -> QuantumCircuit:
        return self.transpiled.isa

    @property
    def values(self) -> np.ndarray:
        return self.transpiled.values

    @property
    def observables(self) -> list[SparsePauliOp] | None:
        """None: sampled."""
        return self.transpiled.observables

    @property
    def shape(self) -> dict[str, int]:
        return self.transpiled.shape

    @property
    def sets(self) -> int:
        return int(self.values.shape[0])


def load_task(task: ExecutionTask, device: Device) -> list[Loaded]:
    """Checks every circuit of the task (no transpiling, no network)."""
    check_run_type(task.run_type)
    if not task.circuits:
        raise ProviderError("invalid_task", "a task needs at least one circuit")
    most = max_shots(device)
    if task.shots < 1 or (most and task.shots > most):
        raise ProviderError(
            "invalid_shots", f"shots must be between 1 and {most or 'the device maximum'}"
        )
    loaded: list[Loaded] = []
    for index, circuit_task in enumerate(task.circuits):
        where = f"circuits[{index}]"
        circuit, values = run_circuit(circuit_task, where)
        if circuit.num_qubits > device.qubits:
            raise ProviderError(
                "device_too_small",
                f"{where}: {circuit.num_qubits} qubits, but {device.id} has {device.qubits}",
            )
        specs = circuit_task.observables
        loaded.append(
            Loaded(
                index=index,
                circuit=circuit,
                values=values,
                observables=pauli_operators(specs, circuit.num_qubits, where) if specs else None,
                labels=sorted({p for spec in specs for p in spec.paulis}) if specs else [],
            )
        )
    return loaded


def transpile(
    loaded: list[Loaded], backend: BackendV2, options: IbmOptions, *, snapshot: bool
) -> tuple[list[Prepared], float]:
    """Each circuit transpiled to `backend` (ISA), observables laid out on its qubits; and the
    seconds transpiling took. `snapshot`: the backend is a fixed calibration snapshot."""
    build = pass_manager if snapshot else pass_manager.__wrapped__
    manager = build(options.optimization_level, options.seed_transpiler, backend=backend)
    prepared: list[Prepared] = []
    for item in loaded:
        done = transpiled(
            manager, item.circuit, item.values, item.observables, f"circuits[{item.index}]"
        )
        prepared.append(Prepared(item.index, item.labels, done))
    return prepared, sum(p.transpiled.seconds for p in prepared)


def measurement_bases(labels: Sequence[str]) -> int:
    """Qubit-wise commuting groups of Pauli labels: one measured circuit each."""
    if not labels:
        return 0
    from qiskit.quantum_info import PauliList

    return len(PauliList(list(labels)).group_qubit_wise_commuting())
