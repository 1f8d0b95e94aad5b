"""A task's circuits prepared locally for IonQ (no network): transpiled to the qis gateset with
no coupling map (the machines are all-to-all, so qubit i stays i), one measured circuit per
measurement group, parameters bound here (batches.py packs them into IonQ jobs)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from qorch.adapters.providers.ionq.catalogue import QIS_BASIS
from qorch.adapters.providers.ionq.options import Options, check_run_type
from qorch.adapters.providers.pipeline.circuits import (
    check_observables,
    has_measurements,
    load_circuit,
    parameter_sets,
)
from qorch.adapters.providers.pipeline.passes import pass_manager
from qorch.adapters.providers.pipeline.shape import transpiled_shape
from qorch.domain.devices import Device
from qorch.domain.execution import ExecutionTask, ProviderError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from qorch.adapters.providers.pipeline.observables import MeasurementPlan

MAX_SHOTS = 1_000_000


@dataclass
class Prepared:
    """One circuit of the task, transpiled: one measured circuit per measurement group."""

    measured: list[QuantumCircuit]
    """Transpiled to the qis basis; parameters still free."""
    names: list[str]
    """Parameter names in binding order (the original circuit's)."""
    values: list[tuple[float, ...]]
    """Parameter sets (one empty set when the circuit has no parameters)."""
    plan: MeasurementPlan | None

    @property
    def executions(self) -> int:
        return len(self.values) * len(self.measured)

    @cached_property
    def shapes(self) -> list[dict[str, int]]:
        return [transpiled_shape(circuit) for circuit in self.measured]

    @cached_property
    def clbits(self) -> list[list[int | None]]:
        """Per measured circuit: the qubit each classical bit reads (None: never measured)."""
        return [_clbit_map(circuit) for circuit in self.measured]

    def bound(self, parameter_set: int, group: int) -> QuantumCircuit:
        circuit = self.measured[group]
        if not circuit.parameters:
            return circuit
        # By name: transpiling may have dropped a parameter the original circuit has.
        values = dict(zip(self.names, self.values[parameter_set], strict=True))
        return circuit.assign_parameters({p: values[p.name] for p in circuit.parameters})


def prepare(task: ExecutionTask, device: Device, options: Options) -> list[Prepared]:
    from qorch.adapters.providers.pipeline.observables import measurement_circuits

    check_run_type(task.run_type)
    if isinstance(task.shots, bool) or not 1 <= task.shots <= MAX_SHOTS:
        raise ProviderError("invalid_shots", f"shots must be an integer in 1..{MAX_SHOTS}")
    if not task.circuits:
        raise ProviderError("invalid_task", "a task needs at least one circuit")
    transpiler = pass_manager(options.optimization_level, basis_gates=QIS_BASIS)
    prepared = []
    for index, circuit_task in enumerate(task.circuits):
        where = f"circuits[{index}]"
        circuit = load_circuit(circuit_task.source, where)
        if circuit.num_qubits > device.qubits:
            raise ProviderError(
                "device_too_small",
                f"{where}: {circuit.num_qubits} qubits, but {device.id} has {device.qubits}",
            )
        _check_flat(circuit, where)
        values = parameter_sets(circuit, circuit_task.parameter_sets, where)
        plan = None
        if circuit_task.observables:
            check_observables(circuit_task.observables, circuit.num_qubits, where)
            plan = measurement_circuits(circuit, circuit_task.observables)
            measured = list(plan.circuits)
        elif not has_measurements(circuit):
            raise ProviderError(
                "no_measurements",
                f"{where}: the circuit measures nothing; add measurements or give observables",
            )
        else:
            measured = [circuit]
        try:
            transpiled = [transpiler.run(c) for c in measured]
        except Exception as error:
            raise ProviderError("transpile_failed", f"{where}: {error}") from error
        names = [parameter.name for parameter in circuit.parameters]
        prepared.append(Prepared(transpiled, names, values, plan))
    return prepared


def _check_flat(circuit: QuantumCircuit, where: str) -> None:
    """ionq.circuit.v1 measures every qubit once at the end: no reset, mid-circuit measurement
    or control flow (qiskit-ionq would switch to OpenQASM 3 jobs, which qorch does not use)."""
    from qiskit.circuit import ControlFlowOp

    measured: set[int] = set()
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name in ("barrier", "delay"):
            continue
        if isinstance(operation, ControlFlowOp) or operation.name == "reset":
            raise ProviderError(
                "unsupported_circuit",
                f"{where}: IonQ devices run no {operation.name} (only gates, then measurements)",
            )
        qubits = {circuit.find_bit(q).index for q in instruction.qubits}
        if operation.name == "measure":
            measured |= qubits
        elif measured & qubits:
            raise ProviderError(
                "unsupported_circuit",
                f"{where}: IonQ devices measure at the end only; '{operation.name}' acts on a "
                "measured qubit",
            )


def _clbit_map(circuit: QuantumCircuit) -> list[int | None]:
    qubit_of: list[int | None] = [None] * circuit.num_clbits
    for instruction in circuit.data:
        if instruction.operation.name == "measure":
            qubit = circuit.find_bit(instruction.qubits[0]).index
            qubit_of[circuit.find_bit(instruction.clbits[0]).index] = qubit
    return qubit_of
