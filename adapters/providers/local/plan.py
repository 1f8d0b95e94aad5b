"""A local job made ready to execute: its device, options, and every circuit loaded, checked
and transpiled once (what a run executes and an estimate prices)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from qorch.adapters.providers.local import client
from qorch.adapters.providers.local.catalogue import (
    FAKE_BACKENDS,
    MPS_METHOD,
    aer_method,
    find_local_device,
)
from qorch.adapters.providers.local.options import (
    Mitigation,
    Options,
    mitigation_for,
    parse_options,
)
from qorch.adapters.providers.pipeline.circuits import (
    has_measurements,
    load_circuit,
    parameter_array,
    pauli_operators,
    run_circuit,
    transpiled,
)
from qorch.domain.devices import Device
from qorch.domain.execution import CircuitTask, ExecutionTask, ProviderError

if TYPE_CHECKING:
    import numpy as np
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp
    from qiskit.transpiler import StagedPassManager


@dataclass
class Prepared:
    """One circuit ready to execute."""

    circuit: QuantumCircuit
    """Transpiled (ISA) circuit; final measurements removed unless sampling."""
    values: np.ndarray
    """(P, k): parameter sets in `circuit.parameters` order (transpiling may drop some)."""
    observables: list[SparsePauliOp] | None
    """Laid out on the transpiled circuit's qubits."""
    width: int
    shape: dict[str, int]


@dataclass
class Plan:
    device: Device
    method: str
    executor_id: str
    """The simulator that executes: the device's own, or the dense one for a StatevectorRun."""
    options: Options
    circuits: list[Prepared]
    transpile_seconds: float
    mitigation: Mitigation


def prepare(task: ExecutionTask, device_id: str, max_dense_qubits: int) -> Plan:
    from qorch.adapters.providers.local import gpu

    device = find_local_device(device_id, max_dense_qubits) or gpu.device_here(device_id)
    if device is None:
        raise ProviderError("unknown_device", f"device {device_id!r} is not a local simulator")
    options = parse_options(task.options)
    mitigation = mitigation_for(device, task.run_type, task.use_mitigation, task.options)
    if task.run_type == "Run":
        if task.shots < 1:
            raise ProviderError("invalid_shots", "shots must be at least 1")
        executor_id, capacity = device.id, device.qubits
        method = "automatic" if device.noisy else aer_method(device.id)
    elif gpu.on_gpu(device):  # the GPU's statevector, as large as the GPU holds
        executor_id, capacity, method = gpu.STATEVECTOR_DEVICE, device.qubits, "statevector"
    elif aer_method(device.id) == MPS_METHOD:  # exact expectation values without a dense state
        executor_id, capacity, method = device.id, device.qubits, MPS_METHOD
    else:
        executor_id = client.STATEVECTOR_DEVICE
        capacity = min(device.qubits, max_dense_qubits)
        method = "statevector"
    # Without observables every amplitude is returned: a dense state, whatever the method.
    full_capacity = min(capacity, max_dense_qubits) if method == MPS_METHOD else capacity
    if not task.circuits:
        raise ProviderError("invalid_task", "a task needs at least one circuit")
    # Looked up on the module, so a test can count the transpilations.
    pass_manager = client.pass_manager_for(
        executor_id, options.optimization_level, options.seed_transpiler
    )
    # Seeded, the passes answer the same circuit every time. Unseeded, they may not, but on an
    # ideal simulator (no layout, no noise) each answer computes the same state: the first
    # one serves later jobs. A noisy device's layout is drawn again for each unseeded job.
    reuse = options.seed_transpiler is not None or executor_id not in FAKE_BACKENDS
    circuits: list[Prepared] = []
    transpile_seconds = 0.0
    for index, circuit_task in enumerate(task.circuits):
        where = f"circuits[{index}]"
        full = task.run_type == "StatevectorRun" and not circuit_task.observables
        most = full_capacity if full else capacity
        prepared, seconds = _prepared(circuit_task, where, task, device, most, pass_manager, reuse)
        circuits.append(prepared)
        transpile_seconds += seconds
    return Plan(device, method, executor_id, options, circuits, transpile_seconds, mitigation)


def _prepared(
    circuit_task: CircuitTask,
    where: str,
    task: ExecutionTask,
    device: Device,
    capacity: int,
    pass_manager: StagedPassManager,
    reuse: bool,
) -> tuple[Prepared, float]:
    """The circuit ready to execute, and the seconds its transpiling took (`reuse`: the
    transpiled circuit of an earlier job with the same source may serve)."""
    statevector = task.run_type == "StatevectorRun"
    if statevector:
        circuit, values = _statevector_circuit(circuit_task, where)
    else:
        circuit, values = run_circuit(circuit_task, where)
    if circuit.num_qubits > capacity:
        raise ProviderError(
            "device_too_small",
            f"{where}: {circuit.num_qubits} qubits, but {device.id} runs at most {capacity}"
            + (" for StatevectorRun" if statevector else ""),
        )
    specs = circuit_task.observables
    observables = pauli_operators(specs, circuit.num_qubits, where) if specs else None
    # Named by its source and what was removed from it (final measurements, or none).
    name = (circuit_task.source, statevector or bool(specs)) if reuse else None
    done = transpiled(pass_manager, circuit, values, observables, where, name)
    prepared = Prepared(done.isa, done.values, done.observables, circuit.num_qubits, done.shape)
    return prepared, done.seconds


def _statevector_circuit(
    circuit_task: CircuitTask, where: str
) -> tuple[QuantumCircuit, np.ndarray]:
    """Like `run_circuit`, for the exact state: no measurement may remain."""
    circuit = load_circuit(circuit_task.source, where)
    values = parameter_array(circuit, circuit_task.parameter_sets, where)
    circuit = circuit.remove_final_measurements(inplace=False)
    if has_measurements(circuit):
        raise ProviderError(
            "unsupported_circuit",
            f"{where}: StatevectorRun needs a circuit without mid-circuit measurements",
        )
    return circuit, values
