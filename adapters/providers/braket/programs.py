"""A task's circuits as Braket OpenQASM 3 programs that we write ourselves.

Each circuit is transpiled (no network) to Qiskit gates that have an exact Braket twin (cx ->
cnot, sdg -> si, sx -> v, rzz -> zz, ...), restricted to what the device accepts, and printed
with Braket's gate names, so no `gate` definitions are needed (QPUs refuse them). Free parameters
are renamed `p_<k>` (k = position in `circuit.parameters`) and declared `input float p_<k>;`;
each parameter set is bound through the program's `inputs`. Every qubit is measured at the end
(`b = measure q;`) and the classical bits are rebuilt from the measured qubits in Qiskit order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qorch.adapters.providers.braket.catalogue import QISKIT_TO_BRAKET, Spec
from qorch.adapters.providers.braket.options import Options
from qorch.adapters.providers.pipeline.circuits import (
    check_observables,
    has_measurements,
    load_circuit,
    parameter_sets,
)
from qorch.adapters.providers.pipeline.passes import pass_manager
from qorch.adapters.providers.pipeline.shape import transpiled_shape
from qorch.domain.execution import ExecutionTask, ObservableSpec, ProviderError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.transpiler import StagedPassManager

    from qorch.adapters.providers.pipeline.observables import MeasurementPlan


@dataclass(frozen=True)
class Program:
    source: str
    """OpenQASM 3 with Braket gate names; parameters declared as `input float p_<k>;`."""
    inputs: tuple[tuple[str, int], ...]
    """(input name, index in the parameter set) for each declared input."""
    clbits: tuple[int, ...]
    """Per classical bit (Qiskit order), the qubit whose final measurement it holds (-1: none)."""
    shape: dict[str, int]
    global_phase: Any = 0.0
    """The transpiled circuit's global phase (a number, or an expression of the inputs): only a
    state vector shows it."""

    def bound_inputs(self, values: tuple[float, ...]) -> dict[str, float]:
        return {name: values[index] for name, index in self.inputs}


@dataclass
class LoadedCircuit:
    """One circuit of the task, checked, with its measured variants."""

    width: int
    values: list[tuple[float, ...]]
    """Parameter sets in `circuit.parameters` order (one empty set when there are none)."""
    measured: list[QuantumCircuit]
    """What runs: the circuit itself, or one circuit per measurement group, or (statevector) the
    circuit without measurements. Parameters renamed p_<k>."""
    plan: MeasurementPlan | None
    observables: tuple[ObservableSpec, ...] | None


def load_task(task: ExecutionTask, spec: Spec) -> list[LoadedCircuit]:
    if not task.circuits:
        raise ProviderError("invalid_task", "a task needs at least one circuit")
    statevector = task.run_type == "StatevectorRun"
    if not statevector and task.shots < 1:
        raise ProviderError("invalid_shots", "shots must be at least 1")
    loaded: list[LoadedCircuit] = []
    for index, circuit_task in enumerate(task.circuits):
        where = f"circuits[{index}]"
        original = _fitting(load_circuit(circuit_task.source, where), spec, where)
        values = parameter_sets(original, circuit_task.parameter_sets, where)
        circuit = _renamed(original)
        observables = circuit_task.observables or None
        if observables:
            check_observables(observables, circuit.num_qubits, where)
        measured, plan = _measured(circuit, observables, statevector, where)
        loaded.append(LoadedCircuit(circuit.num_qubits, values, measured, plan, observables))
    return loaded


def _measured(
    circuit: QuantumCircuit,
    observables: tuple[ObservableSpec, ...] | None,
    statevector: bool,
    where: str,
) -> tuple[list[QuantumCircuit], MeasurementPlan | None]:
    from qorch.adapters.providers.pipeline.observables import measurement_circuits

    if statevector:
        base = circuit.remove_final_measurements(inplace=False)
        if has_measurements(base):
            raise ProviderError(
                "unsupported_circuit",
                f"{where}: StatevectorRun needs a circuit without mid-circuit measurements",
            )
        return [base], None
    if observables:
        plan = measurement_circuits(circuit, observables)
        return list(plan.circuits), plan
    if not has_measurements(circuit):
        raise ProviderError(
            "no_measurements",
            f"{where}: the circuit measures nothing; add measurements or give observables",
        )
    return [circuit], None


def _fitting(circuit: QuantumCircuit, spec: Spec, where: str) -> QuantumCircuit:
    """The circuit, when it fits the device and is gates then final measurements (what
    programs here are made of)."""
    if circuit.num_qubits > spec.qubits:
        raise ProviderError(
            "device_too_small",
            f"{where}: {circuit.num_qubits} qubits, but {spec.id} has {spec.qubits}",
        )
    measured: set[int] = set()
    for instruction in circuit.data:
        name = instruction.operation.name
        qubits = [circuit.find_bit(qubit).index for qubit in instruction.qubits]
        if name == "measure":
            measured.update(qubits)
        elif name == "barrier":
            continue
        elif (
            name in ("reset", "delay")
            or instruction.operation.num_clbits
            or (hasattr(instruction.operation, "blocks"))
        ):
            raise ProviderError(
                "unsupported_circuit",
                f"{where}: '{name}' cannot run on Amazon Braket through qorch (gates and final "
                "measurements only)",
            )
        elif measured.intersection(qubits):
            raise ProviderError(
                "unsupported_circuit",
                f"{where}: a gate ('{name}') acts on a qubit after it was measured; Amazon "
                "Braket runs final measurements only",
            )
    return circuit


def _renamed(circuit: QuantumCircuit) -> QuantumCircuit:
    """Parameters renamed `p_<k>` (k = position in `circuit.parameters`): always valid OpenQASM
    identifiers (a ParameterVector element prints as `theta[0]`). If the circuit already names
    something `p_...`, the prefix grows (`p__<k>`) so no new name meets an old one."""
    from qiskit.circuit import Parameter

    if not circuit.parameters:
        return circuit
    names = [parameter.name for parameter in circuit.parameters]
    prefix = "p_"
    while any(name.startswith(prefix) for name in names):
        prefix += "_"
    mapping = {old: Parameter(f"{prefix}{k}") for k, old in enumerate(circuit.parameters)}
    return circuit.assign_parameters(mapping, inplace=False)


def input_index(name: str) -> int:
    """k of an input named by `_renamed`."""
    return int(name.rsplit("_", 1)[1])


def transpile(circuit: QuantumCircuit, passes: StagedPassManager, where: str) -> Any:
    try:
        return passes.run(circuit)
    except Exception as error:
        raise ProviderError("transpile_failed", f"{where}: {error}") from error


def programs(
    loaded: list[LoadedCircuit], spec: Spec, options: Options, statevector: bool
) -> list[list[Program]]:
    """Per circuit, one Braket program per measured variant (no layout: Braket maps qubits)."""
    passes = pass_manager(
        options.optimization_level, options.seed_transpiler, basis_gates=spec.submit_gates
    )
    return [
        [
            _emit(transpile(measured, passes, f"circuits[{index}]"), statevector, index)
            for measured in circuit.measured
        ]
        for index, circuit in enumerate(loaded)
    ]


def _emit(isa: QuantumCircuit, statevector: bool, index: int) -> Program:
    width = isa.num_qubits
    names = sorted((parameter.name for parameter in isa.parameters), key=input_index)
    lines = ["OPENQASM 3.0;"]
    lines += [f"input float {name};" for name in names]
    lines.append(f"qubit[{width}] q;")
    if statevector:
        # The simulator keeps only qubits a gate touches; an identity on each keeps them all.
        lines += [f"i q[{qubit}];" for qubit in range(width)]
    else:
        lines.append(f"bit[{width}] b;")
    clbits = [-1] * isa.num_clbits
    for instruction in isa.data:
        operation = instruction.operation
        qubits = [isa.find_bit(qubit).index for qubit in instruction.qubits]
        if operation.name == "barrier":
            continue
        if operation.name == "measure":
            clbits[isa.find_bit(instruction.clbits[0]).index] = qubits[0]
            continue
        gate = QISKIT_TO_BRAKET.get(operation.name)
        if gate is None:
            raise ProviderError(
                "invalid_circuit",
                f"circuits[{index}]: '{operation.name}' has no Amazon Braket equivalent",
            )
        arguments = (
            f"({', '.join(_angle(p) for p in operation.params)})" if operation.params else ""
        )
        targets = ", ".join(f"q[{qubit}]" for qubit in qubits)
        lines.append(f"{gate}{arguments} {targets};")
    lines.append("#pragma braket result state_vector" if statevector else "b = measure q;")
    inputs = tuple((name, input_index(name)) for name in names)
    return Program(
        "\n".join(lines) + "\n", inputs, tuple(clbits), transpiled_shape(isa), isa.global_phase
    )


def _angle(value: Any) -> str:
    from qiskit.circuit import ParameterExpression

    if isinstance(value, ParameterExpression):
        if not value.parameters:
            return repr(float(value))
        return str(value)
    return repr(float(value))
