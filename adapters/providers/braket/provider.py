"""Amazon Braket: local simulators (braket_sv, braket_dm) and managed devices (SV1, DM1, QPUs).

Every circuit is sent as an OpenQASM 3 `braket.ir.openqasm.Program` that we write ourselves: the
circuit is transpiled (no network) to Qiskit gates that have an exact Braket twin (cx -> cnot,
sdg -> si, sx -> v, rzz -> zz, ...), restricted to what the device accepts, and printed with
Braket's gate names. So no `gate` definitions are needed (Qiskit's `qasm3.dumps` with
`includes=[]` defines every gate inline, which QPUs refuse). Free parameters are renamed `p_<k>`
(k = position in `circuit.parameters`) and declared `input float p_<k>;`; each parameter set is
bound through the program's `inputs`. Every qubit is measured at the end (`b = measure q;`) and
the job's classical bits are rebuilt from the measured qubits in Qiskit bit order.

One Braket task per circuit x parameter set x measurement group (observables are estimated from
shots with `qorch.adapters.providers.pipeline.observables`). Task i carries the idempotency token
`client_token` (i = 0) or `f"{client_token}-{i}"` as Braket's clientToken, so a create retried
after a lost answer never makes a second paid task.

Remote calls use the real SDK on a boto3 session built from the job's keys (nothing is read
from or written to os.environ for them): tasks are created with `AwsDevice(arn).run` (up to 8 at
once); polling reads GetQuantumTask with the session's Braket client and each results.json with
its S3 client, then parses it as `AwsQuantumTask.result()` does. (`result()` itself builds a new
S3 resource from the boto3 session on every call, and boto3 sessions are not thread-safe.) With
`ProviderConfig.braket_endpoint_url`, every client of the session (Braket, S3, STS) goes there,
S3 path-style. A QPU is always reached in its own region; a region-less simulator ARN (SV1, DM1)
in `aws_default_region` (default us-east-1).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.pipeline.circuits import (
    check_observables,
    has_measurements,
    load_circuit,
    option_integer,
    parameter_sets,
)
from qorch.adapters.providers.pipeline.prices import load_prices
from qorch.adapters.providers.pipeline.retry_after import retry_after_seconds
from qorch.adapters.providers.pipeline.secrets import without_secrets
from qorch.adapters.providers.pipeline.shape import transpiled_shape
from qorch.domain.devices import Device
from qorch.domain.execution import (
    CircuitOutcome,
    CostEstimate,
    ExecutionOutcome,
    ExecutionTask,
    ObservableSpec,
    ProviderError,
    ProviderJob,
)
from qorch.domain.pricing import CircuitCost, estimate_cost

if TYPE_CHECKING:
    from braket.aws import AwsSession
    from braket.tasks import GateModelQuantumTaskResult
    from qiskit import QuantumCircuit
    from qiskit.transpiler import StagedPassManager

    from qorch.adapters.providers.pipeline.observables import MeasurementPlan

PROVIDER = "braket"
_T = TypeVar("_T")
_R = TypeVar("_R")
SUPPORTED_OPTIONS = ("optimization_level", "seed_transpiler", "s3_bucket")
CREDENTIAL_NAMES = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_default_region",
)
DEFAULT_REGION = "us-east-1"
DEFAULT_OPTIMIZATION_LEVEL = 1
DEBIAS_MINIMUM_SHOTS = 2500
"""IonQ debiasing's minimum on Braket (the device document's value wins when it gives one)."""
MAX_TOKEN = 64
"""Braket's clientToken is at most 64 characters."""

# --- the catalogue (static data: no SDK, no network) ----------------------------------------------

_QISKIT_TO_BRAKET: dict[str, str] = {
    "x": "x",
    "y": "y",
    "z": "z",
    "h": "h",
    "s": "s",
    "sdg": "si",
    "t": "t",
    "tdg": "ti",
    "sx": "v",
    "sxdg": "vi",
    "rx": "rx",
    "ry": "ry",
    "rz": "rz",
    "p": "phaseshift",
    "id": "i",
    "cx": "cnot",
    "cy": "cy",
    "cz": "cz",
    "cp": "cphaseshift",
    "swap": "swap",
    "iswap": "iswap",
    "ccx": "ccnot",
    "cswap": "cswap",
    "rxx": "xx",
    "ryy": "yy",
    "rzz": "zz",
}
"""Qiskit gates whose Braket twin has the same matrix (global phase included)."""

_SIMULATOR_GATES = tuple(name for name in _QISKIT_TO_BRAKET if name != "id")
_COMMON_QPU_GATES = ("x", "y", "z", "h", "s", "sdg", "t", "tdg", "rx", "ry", "rz", "cx", "swap")
_IONQ_GATES = (*_COMMON_QPU_GATES, "sx", "sxdg", "rxx", "ryy", "rzz")
_IQM_GATES = (
    *_COMMON_QPU_GATES,
    "sx",
    "sxdg",
    "p",
    "cy",
    "cz",
    "cp",
    "iswap",
    "ccx",
    "cswap",
    "rxx",
    "ryy",
    "rzz",
)
_RIGETTI_GATES = (*_COMMON_QPU_GATES, "p", "cz", "cp", "iswap", "ccx", "cswap")


_IONQ_NATIVE = ("rx", "ry", "rz", "rxx")
"""IonQ's gpi/gpi2/ms (zz on Forte) approximated by Qiskit rotations and rxx for dry runs."""


def _grid(rows: int, columns: int) -> tuple[tuple[int, int], ...]:
    """A square lattice, both directions of every edge (an approximation of a real chip)."""
    edges: list[tuple[int, int]] = []
    for row in range(rows):
        for column in range(columns):
            qubit = row * columns + column
            if column + 1 < columns:
                edges += [(qubit, qubit + 1), (qubit + 1, qubit)]
            if row + 1 < rows:
                edges += [(qubit, qubit + columns), (qubit + columns, qubit)]
    return tuple(sorted(edges))


@dataclass(frozen=True)
class _Spec:
    id: str
    name: str
    vendor: str
    qubits: int
    simulator: bool
    description: str
    submit_gates: tuple[str, ...]
    """Qiskit gates (each with a Braket twin) a program for this device may use."""
    native_gates: tuple[str, ...]
    """The device's native gates in Qiskit terms, for dry-run transpiling."""
    coupling: tuple[tuple[int, int], ...] | None = None
    arn: str | None = None
    region: str | None = None
    local_backend: str | None = None
    price_key: str | None = None
    debias: bool = False

    @property
    def remote(self) -> bool:
        return self.local_backend is None


_SPECS: dict[str, _Spec] = {
    spec.id: spec
    for spec in (
        _Spec(
            id="braket_sv",
            name="Braket local state vector simulator",
            vendor="Amazon Braket",
            qubits=26,
            simulator=True,
            description="Amazon Braket's local state vector simulator, runs offline (no AWS "
            "account)",
            submit_gates=_SIMULATOR_GATES,
            native_gates=_SIMULATOR_GATES,
            local_backend="braket_sv",
        ),
        _Spec(
            id="braket_dm",
            name="Braket local density matrix simulator",
            vendor="Amazon Braket",
            qubits=13,
            simulator=True,
            description="Amazon Braket's local density matrix simulator, runs offline (no AWS "
            "account)",
            submit_gates=_SIMULATOR_GATES,
            native_gates=_SIMULATOR_GATES,
            local_backend="braket_dm",
        ),
        _Spec(
            id="braket_sv1",
            name="SV1",
            vendor="Amazon Braket",
            qubits=34,
            simulator=True,
            description="Amazon Braket managed state vector simulator (billed per minute)",
            submit_gates=_SIMULATOR_GATES,
            native_gates=_SIMULATOR_GATES,
            arn="arn:aws:braket:::device/quantum-simulator/amazon/sv1",
            price_key="braket:sv1",
        ),
        _Spec(
            id="braket_dm1",
            name="DM1",
            vendor="Amazon Braket",
            qubits=17,
            simulator=True,
            description="Amazon Braket managed density matrix simulator (billed per minute)",
            submit_gates=_SIMULATOR_GATES,
            native_gates=_SIMULATOR_GATES,
            arn="arn:aws:braket:::device/quantum-simulator/amazon/dm1",
            price_key="braket:dm1",
        ),
        _Spec(
            id="braket_ionq_forte",
            name="IonQ Forte-1",
            vendor="IonQ",
            qubits=36,
            simulator=False,
            description="IonQ Forte-1 trapped-ion QPU through Amazon Braket (all-to-all "
            "connectivity)",
            submit_gates=_IONQ_GATES,
            native_gates=_IONQ_NATIVE,
            arn="arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1",
            region="us-east-1",
            price_key="braket:ionq_forte",
            debias=True,
        ),
        _Spec(
            id="braket_ionq_aria",
            name="IonQ Aria-1",
            vendor="IonQ",
            qubits=25,
            simulator=False,
            description="IonQ Aria-1 trapped-ion QPU through Amazon Braket (all-to-all "
            "connectivity)",
            submit_gates=_IONQ_GATES,
            native_gates=_IONQ_NATIVE,
            arn="arn:aws:braket:us-east-1::device/qpu/ionq/Aria-1",
            region="us-east-1",
            price_key="braket:ionq_aria",
            debias=True,
        ),
        _Spec(
            id="braket_iqm_garnet",
            name="IQM Garnet",
            vendor="IQM",
            qubits=20,
            simulator=False,
            description="IQM Garnet superconducting QPU through Amazon Braket (coupling map "
            "approximated by a 4x5 square lattice)",
            submit_gates=_IQM_GATES,
            native_gates=("r", "cz"),  # IQM's prx is Qiskit's r
            coupling=_grid(4, 5),
            arn="arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet",
            region="eu-north-1",
            price_key="braket:iqm_garnet",
        ),
        _Spec(
            id="braket_rigetti_ankaa",
            name="Rigetti Ankaa-3",
            vendor="Rigetti",
            qubits=84,
            simulator=False,
            description="Rigetti Ankaa-3 superconducting QPU through Amazon Braket (coupling "
            "map approximated by a 7x12 square lattice)",
            submit_gates=_RIGETTI_GATES,
            native_gates=("rx", "rz", "cz", "iswap"),
            coupling=_grid(7, 12),
            arn="arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3",
            region="us-west-1",
            price_key="braket:rigetti_ankaa",
        ),
    )
}


def devices() -> list[Device]:
    return [_device(spec) for spec in _SPECS.values()]


def _device(spec: _Spec) -> Device:
    extra: dict[str, object] = {"native_gates": list(spec.native_gates)}
    if spec.arn:
        extra["arn"] = spec.arn
        extra["region"] = spec.region or "any (the session's region)"
    if spec.coupling is not None:
        extra["coupling_map_approximate"] = True
    return Device(
        id=spec.id,
        provider=PROVIDER,
        vendor=spec.vendor,
        name=spec.name,
        qubits=spec.qubits,
        simulator=spec.simulator,
        status="online",
        description=spec.description,
        basis_gates=spec.native_gates,
        coupling_map=spec.coupling,
        noisy=not spec.simulator,
        supports_statevector=spec.id == "braket_sv",
        remote=spec.remote,
        credentials=("aws_access_key_id", "aws_secret_access_key") if spec.remote else (),
        price_key=spec.price_key,
        extra=extra,
    )


def _spec(device: Device) -> _Spec:
    spec = _SPECS.get(device.id)
    if spec is None:
        raise ProviderError(
            "unknown_device", f"device {device.id!r} is not an Amazon Braket device"
        )
    return spec


# --- what a request may ask for -------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    optimization_level: int
    seed_transpiler: int | None
    s3_bucket: str | None


def _parse_options(options: Mapping[str, Any]) -> _Options:
    for name in options:
        if name not in SUPPORTED_OPTIONS and name not in CREDENTIAL_NAMES:
            raise ProviderError(
                "unsupported_option",
                f"options.{name}: not supported on Amazon Braket "
                f"(supported: {', '.join(SUPPORTED_OPTIONS)})",
                field=f"options.{name}",
            )

    level = option_integer(options, "optimization_level", 3)
    bucket = options.get("s3_bucket")
    if bucket is not None and (
        not isinstance(bucket, str)
        or not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket)
    ):
        raise ProviderError(
            "invalid_option", "options.s3_bucket: not an S3 bucket name", field="options.s3_bucket"
        )
    return _Options(
        optimization_level=DEFAULT_OPTIMIZATION_LEVEL if level is None else level,
        seed_transpiler=option_integer(options, "seed_transpiler", 2**31 - 1),
        s3_bucket=bucket,
    )


def _mitigation(spec: _Spec, run_type: str, mitigate: bool) -> str | None:
    """The Braket feature `use_mitigation` maps to: IonQ debiasing, nothing elsewhere."""
    if not mitigate:
        return None
    if run_type == "StatevectorRun":
        raise ProviderError(
            "unsupported_option",
            "use_mitigation does not apply to StatevectorRun (exact simulation)",
            field="use_mitigation",
        )
    if not spec.debias:
        raise ProviderError(
            "unsupported_option",
            f"use_mitigation on Amazon Braket means IonQ debiasing, available on "
            f"braket_ionq_forte and braket_ionq_aria only; {spec.id} has no error mitigation "
            "through Braket",
            field="use_mitigation",
        )
    return "debias"


def check_request(device: Device, run_type: str, options: dict[str, Any], mitigate: bool) -> None:
    spec = _spec(device)
    _parse_options(options)
    if run_type == "StatevectorRun" and spec.id != "braket_sv":
        raise ProviderError(
            "unsupported_option",
            f"StatevectorRun runs only on braket_sv (the local state vector simulator); "
            f"{spec.id} returns shots",
            field="run_type",
        )
    _mitigation(spec, run_type, mitigate)


def _check_debias_shots(shots: int, minimum: int = DEBIAS_MINIMUM_SHOTS) -> None:
    if shots < minimum:
        raise ProviderError(
            "unsupported_option",
            f"IonQ debiasing (use_mitigation) needs at least {minimum} shots on Amazon Braket; "
            f"got {shots}",
            field="use_mitigation",
        )


# --- circuits to Braket programs ------------------------------------------------------------------


@dataclass(frozen=True)
class _Program:
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


@dataclass
class _Circuit:
    """One circuit of the task, checked, with its measured variants."""

    width: int
    values: list[tuple[float, ...]]
    """Parameter sets in `circuit.parameters` order (one empty set when there are none)."""
    measured: list[QuantumCircuit]
    """What runs: the circuit itself, or one circuit per measurement group, or (statevector) the
    circuit without measurements. Parameters renamed p_<k>."""
    plan: MeasurementPlan | None
    observables: tuple[ObservableSpec, ...] | None


def _load_task(task: ExecutionTask, spec: _Spec) -> list[_Circuit]:
    from qorch.adapters.providers.pipeline.observables import measurement_circuits

    if not task.circuits:
        raise ProviderError("invalid_task", "a task needs at least one circuit")
    statevector = task.run_type == "StatevectorRun"
    if not statevector and task.shots < 1:
        raise ProviderError("invalid_shots", "shots must be at least 1")
    loaded: list[_Circuit] = []
    for index, circuit_task in enumerate(task.circuits):
        where = f"circuits[{index}]"
        original = load_circuit(circuit_task.source, where)
        if original.num_qubits > spec.qubits:
            raise ProviderError(
                "device_too_small",
                f"{where}: {original.num_qubits} qubits, but {spec.id} has {spec.qubits}",
            )
        _check_operations(original, where)
        values = parameter_sets(original, circuit_task.parameter_sets, where)
        circuit = _renamed(original)
        observables = circuit_task.observables or None
        if observables:
            check_observables(observables, circuit.num_qubits, where)
        plan = None
        if statevector:
            base = circuit.remove_final_measurements(inplace=False)
            if has_measurements(base):
                raise ProviderError(
                    "unsupported_circuit",
                    f"{where}: StatevectorRun needs a circuit without mid-circuit measurements",
                )
            measured = [base]
        elif observables:
            plan = measurement_circuits(circuit, observables)
            measured = list(plan.circuits)
        else:
            if not has_measurements(circuit):
                raise ProviderError(
                    "no_measurements",
                    f"{where}: the circuit measures nothing; add measurements or give observables",
                )
            measured = [circuit]
        loaded.append(_Circuit(circuit.num_qubits, values, measured, plan, observables))
    return loaded


def _check_operations(circuit: QuantumCircuit, where: str) -> None:
    """Braket programs here are gates then final measurements: refuse anything else."""
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


def _input_index(name: str) -> int:
    """k of an input named by `_renamed`."""
    return int(name.rsplit("_", 1)[1])


@functools.cache
def _pass_manager(
    gates: tuple[str, ...],
    coupling: tuple[tuple[int, int], ...] | None,
    optimization_level: int,
    seed_transpiler: int | None,
) -> StagedPassManager:
    from qiskit.transpiler import CouplingMap, generate_preset_pass_manager

    return generate_preset_pass_manager(
        optimization_level=optimization_level,
        basis_gates=list(gates),
        coupling_map=CouplingMap(list(coupling)) if coupling else None,
        seed_transpiler=seed_transpiler,
    )


def _transpile(circuit: QuantumCircuit, pass_manager: StagedPassManager, where: str) -> Any:
    try:
        return pass_manager.run(circuit)
    except Exception as error:
        raise ProviderError("transpile_failed", f"{where}: {error}") from error


def _programs(
    loaded: list[_Circuit], spec: _Spec, options: _Options, statevector: bool
) -> list[list[_Program]]:
    """Per circuit, one Braket program per measured variant (no layout: Braket maps qubits)."""
    pass_manager = _pass_manager(
        spec.submit_gates, None, options.optimization_level, options.seed_transpiler
    )
    programs: list[list[_Program]] = []
    for index, circuit in enumerate(loaded):
        where = f"circuits[{index}]"
        programs.append(
            [
                _emit(_transpile(measured, pass_manager, where), statevector, where)
                for measured in circuit.measured
            ]
        )
    return programs


def _emit(isa: QuantumCircuit, statevector: bool, where: str) -> _Program:
    width = isa.num_qubits
    names = sorted((parameter.name for parameter in isa.parameters), key=_input_index)
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
        gate = _QISKIT_TO_BRAKET.get(operation.name)
        if gate is None:
            raise ProviderError(
                "invalid_circuit", f"{where}: '{operation.name}' has no Amazon Braket equivalent"
            )
        arguments = (
            f"({', '.join(_angle(p) for p in operation.params)})" if operation.params else ""
        )
        targets = ", ".join(f"q[{qubit}]" for qubit in qubits)
        lines.append(f"{gate}{arguments} {targets};")
    if statevector:
        lines.append("#pragma braket result state_vector")
    else:
        lines.append("b = measure q;")
    inputs = tuple((name, _input_index(name)) for name in names)
    return _Program(
        "\n".join(lines) + "\n", inputs, tuple(clbits), transpiled_shape(isa), isa.global_phase
    )


def _angle(value: Any) -> str:
    from qiskit.circuit import ParameterExpression

    if isinstance(value, ParameterExpression):
        if not value.parameters:
            return repr(float(value))
        return str(value)
    return repr(float(value))


# --- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """How one circuit's tasks come back: sets x groups results, in that order."""

    sets: int
    clbits: list[tuple[int, ...]]
    """Per group, the measured qubit of each classical bit."""
    shape: dict[str, int]
    plan: MeasurementPlan | None


def _qiskit_counts(
    counts: Mapping[str, float], measured_qubits: Sequence[int], clbits: Sequence[int]
) -> dict[str, float]:
    """Braket outcomes (character i = measured_qubits[i]) to Qiskit keys (clbit 0 rightmost)."""
    column = {qubit: position for position, qubit in enumerate(measured_qubits)}
    picks = [column.get(qubit) if qubit >= 0 else None for qubit in reversed(clbits)]
    converted: dict[str, float] = {}
    for key, value in counts.items():
        bits = "".join("0" if pick is None else key[pick] for pick in picks)
        converted[bits] = converted.get(bits, 0) + value
    return converted


def _collect(
    layouts: list[_Layout], results: Iterator[GateModelQuantumTaskResult]
) -> list[CircuitOutcome]:
    from qorch.adapters.providers.pipeline.observables import expectation_values

    outcomes: list[CircuitOutcome] = []
    for layout in layouts:
        outcome = CircuitOutcome(transpiled=layout.shape)
        counts_per_set: list[dict[str, int]] = []
        distributions: list[dict[str, float]] = []
        values_per_set: list[list[float]] = []
        errors_per_set: list[list[float]] = []
        for _ in range(layout.sets):
            group_counts: list[dict[str, int]] = []
            for clbits in layout.clbits:
                result = next(results)
                counts = {
                    key: int(value)
                    for key, value in _qiskit_counts(
                        result.measurement_counts, result.measured_qubits, clbits
                    ).items()
                }
                group_counts.append(counts)
                if layout.plan is None:
                    distributions.append(_distribution(result, counts, clbits))
            if layout.plan is None:
                counts_per_set.append(group_counts[0])
            else:
                values, errors = expectation_values(layout.plan, group_counts)
                values_per_set.append(values)
                errors_per_set.append(errors)
        if layout.plan is None:
            outcome.counts = counts_per_set
            outcome.distributions = distributions
        else:
            observables = len(layout.plan.observables)
            outcome.expectation_values = [
                [values_per_set[p][o] for p in range(layout.sets)] for o in range(observables)
            ]
            outcome.standard_errors = [
                [errors_per_set[p][o] for p in range(layout.sets)] for o in range(observables)
            ]
        outcomes.append(outcome)
    return outcomes


def _distribution(
    result: GateModelQuantumTaskResult, counts: dict[str, int], clbits: Sequence[int]
) -> dict[str, float]:
    if getattr(result, "measurement_probabilities_copied_from_device", False):
        # Debiased (IonQ) results come as probabilities: keep them, not rounded counts.
        return _qiskit_counts(result.measurement_probabilities, result.measured_qubits, clbits)
    total = sum(counts.values())
    return {key: value / total for key, value in counts.items()}


# --- local simulators -----------------------------------------------------------------------------

# Wall-time model of the local simulators, order of magnitude only: a task costs _TASK_SECONDS,
# each gate touches every amplitude (2^n state vector, 4^n density matrix), each shot is sampled.
_TASK_SECONDS = 5e-3
_AMPLITUDE_SECONDS = 5e-9
_SHOT_SECONDS = 2e-6


@functools.cache
def _local_simulator(backend: str) -> Any:
    from braket.devices import LocalSimulator

    return LocalSimulator(backend)


def _run_local_program(
    backend: str, program: _Program, values: tuple[float, ...], shots: int
) -> Any:
    from braket.ir.openqasm import Program

    inputs = {name: values[index] for name, index in program.inputs}
    with warnings.catch_warnings():
        # braket_dm warns that a noise-free circuit would be cheaper on braket_sv.
        warnings.simplefilter("ignore", UserWarning)
        task = _local_simulator(backend).run(
            Program(source=program.source, inputs=inputs), shots=shots
        )
        return task.result()


def run_task(
    task: ExecutionTask, device: Device, credentials: dict[str, str], config: ProviderConfig
) -> ExecutionOutcome:
    """The local simulators (braket_sv, braket_dm): no account, no network."""
    del credentials, config  # local: nothing to reach
    spec = _spec(device)
    if spec.local_backend is None:
        raise ProviderError("invalid_task", f"{spec.id} runs at AWS: submit it, do not run it")
    check_request(device, task.run_type, task.options, task.use_mitigation)
    options = _parse_options(task.options)
    statevector = task.run_type == "StatevectorRun"
    started = time.perf_counter()
    loaded = _load_task(task, spec)
    programs = _programs(loaded, spec, options, statevector)
    transpile_seconds = time.perf_counter() - started
    started = time.perf_counter()
    try:
        if statevector:
            outcomes = [
                _statevector_outcome(spec.local_backend, circuit, circuit_programs[0])
                for circuit, circuit_programs in zip(loaded, programs, strict=True)
            ]
        else:
            layouts = [_layout(circuit, ps) for circuit, ps in zip(loaded, programs, strict=True)]
            results = (
                _run_local_program(spec.local_backend, program, values, task.shots)
                for circuit, circuit_programs in zip(loaded, programs, strict=True)
                for values in circuit.values
                for program in circuit_programs
            )
            outcomes = _collect(layouts, iter(results))
    except ProviderError:
        raise
    except Exception as error:
        raise ProviderError("simulation_failed", f"{type(error).__name__}: {error}") from error
    tasks = sum(len(c.values) * len(ps) for c, ps in zip(loaded, programs, strict=True))
    return ExecutionOutcome(
        circuits=outcomes,
        metadata={
            "device": spec.id,
            "provider": PROVIDER,
            "simulator": spec.local_backend,
            "shots": None if statevector else task.shots,
            "mitigation": "none",
            "braket_tasks": tasks,
            "optimization_level": options.optimization_level,
            "transpile_seconds": transpile_seconds,
            "execution_seconds": time.perf_counter() - started,
        },
    )


def _layout(circuit: _Circuit, programs: list[_Program]) -> _Layout:
    return _Layout(
        sets=len(circuit.values),
        clbits=[program.clbits for program in programs],
        shape=programs[0].shape,
        plan=circuit.plan,
    )


def _statevector_outcome(backend: str, circuit: _Circuit, program: _Program) -> CircuitOutcome:
    import numpy as np
    from qiskit.quantum_info import SparsePauliOp, Statevector

    width = circuit.width
    states = []
    for values in circuit.values:
        result = _run_local_program(backend, program, values, 0)
        braket_state = np.asarray(result.values[0], dtype=complex)
        # Braket: qubit 0 is the most significant bit; Qiskit: the least significant.
        state = braket_state.reshape([2] * width).transpose(list(range(width))[::-1]).reshape(-1)
        states.append(state * np.exp(1j * _bound_phase(program, values)))
    outcome = CircuitOutcome(transpiled=program.shape)
    if circuit.observables:
        operators = [
            SparsePauliOp.from_list(list(zip(spec.paulis, spec.coefficients, strict=True)))
            for spec in circuit.observables
        ]
        outcome.expectation_values = [
            [float(Statevector(state).expectation_value(operator).real) for state in states]
            for operator in operators
        ]
        outcome.standard_errors = [[0.0] * len(states) for _ in operators]
    else:
        outcome.statevectors = [(s.real.tolist(), s.imag.tolist()) for s in states]
        outcome.probabilities = [_probabilities(state, width) for state in states]
    return outcome


def _bound_phase(program: _Program, values: tuple[float, ...]) -> float:
    from qiskit.circuit import ParameterExpression

    phase = program.global_phase
    if isinstance(phase, ParameterExpression):
        bound = {p: values[_input_index(p.name)] for p in phase.parameters}
        return float(phase.bind(bound, allow_unknown_parameters=True))
    return float(phase)


def _probabilities(state: Any, width: int) -> dict[str, float]:
    import numpy as np

    probabilities = np.abs(state) ** 2
    return {
        format(int(k), f"0{width}b"): float(probabilities[k])
        for k in np.flatnonzero(probabilities > 1e-14)
    }


# --- dry runs -------------------------------------------------------------------------------------


def estimate_task(task: ExecutionTask, device: Device) -> CostEstimate:
    """Transpiles to the device's native gates and coupling (static data) and prices it with the
    price table; never calls AWS. Local simulators: 0 USD and an estimated wall time."""
    spec = _spec(device)
    check_request(device, task.run_type, task.options, task.use_mitigation)
    options = _parse_options(task.options)
    mitigation = _mitigation(spec, task.run_type, task.use_mitigation)
    if mitigation == "debias":
        _check_debias_shots(task.shots)
    loaded = _load_task(task, spec)
    pass_manager = _pass_manager(
        spec.native_gates, spec.coupling, options.optimization_level, options.seed_transpiler
    )
    costs: list[CircuitCost] = []
    for index, circuit in enumerate(loaded):
        isa = _transpile(circuit.measured[0], pass_manager, f"circuits[{index}]")
        costs.append(
            CircuitCost(
                transpiled_shape(isa), executions=len(circuit.values) * len(circuit.measured)
            )
        )
    tasks = sum(cost.executions for cost in costs)
    if spec.price_key is None:
        dense = 4.0 if spec.local_backend == "braket_dm" else 2.0
        shots = 0 if task.run_type == "StatevectorRun" else task.shots
        per_circuit = [
            cost.executions
            * (
                _TASK_SECONDS
                + (cost.shape["gates_1q"] + cost.shape["gates_2q"])
                * dense ** cost.shape["qubits"]
                * _AMPLITUDE_SECONDS
                + shots * _SHOT_SECONDS
            )
            for cost in costs
        ]
        return CostEstimate(
            seconds=sum(per_circuit),
            usd=0.0,
            circuits=[cost.shape for cost in costs],
            breakdown={
                "device": spec.id,
                "simulator": spec.local_backend,
                "tasks": tasks,
                "per_circuit_seconds": per_circuit,
                "model": "per task: 5 ms + gates x amplitudes x 5 ns + shots x 2 us (local, free)",
            },
        )
    estimate = estimate_cost(
        load_prices(), spec.price_key, task.shots, costs, mitigated=mitigation is not None
    )
    estimate.breakdown.update(
        {
            "device": spec.id,
            "device_arn": spec.arn,
            "tasks": tasks,
            "native_gates": list(spec.native_gates),
            "coupling_map": "approximate square lattice" if spec.coupling else "all-to-all",
            "mitigation": mitigation or "none",
        }
    )
    return estimate


# --- AWS sessions and faults ----------------------------------------------------------------------


def _botocore_config(config: ProviderConfig) -> Any:
    """Bounded retries (3 attempts, botocore's standard mode: 5xx, throttling, connection
    errors) whose connect + read timeouts together stay below the executor's call timeout."""
    from botocore.config import Config

    attempts = 3
    per_attempt = max(config.call_timeout, 4.0) / (attempts + 1)  # room left for backoff
    connect = min(5.0, per_attempt / 3)
    read = max(1.0, min(30.0, per_attempt - connect))
    options: dict[str, Any] = {
        "connect_timeout": connect,
        "read_timeout": read,
        "retries": {"total_max_attempts": attempts, "mode": "standard"},
    }
    if config.braket_endpoint_url:
        options["s3"] = {"addressing_style": "path"}
    return Config(**options)


@functools.cache
def _session_class() -> type:
    """A boto3 Session whose every client/resource gets our endpoint and botocore config (the
    Braket SDK creates its S3 client and resource itself, without either)."""
    import boto3

    class EndpointSession(boto3.Session):  # type: ignore[misc]
        def __init__(self, *, endpoint_url: str | None, botocore_config: Any, **kwargs: Any):
            super().__init__(**kwargs)
            self._qorch_endpoint = endpoint_url
            self._qorch_config = botocore_config

        def _adjust(self, kwargs: dict[str, Any]) -> dict[str, Any]:
            if self._qorch_endpoint:  # ours wins, even over BRAKET_ENDPOINT in the environment
                kwargs["endpoint_url"] = self._qorch_endpoint
            given = kwargs.get("config")
            kwargs["config"] = given.merge(self._qorch_config) if given else self._qorch_config
            return kwargs

        def client(self, *args: Any, **kwargs: Any) -> Any:
            return super().client(*args, **self._adjust(kwargs))

        def resource(self, *args: Any, **kwargs: Any) -> Any:
            return super().resource(*args, **self._adjust(kwargs))

    return EndpointSession


def _session(
    credentials: Mapping[str, str], config: ProviderConfig, region: str, bucket: str | None
) -> AwsSession:
    from braket.aws import AwsSession

    key = credentials.get("aws_access_key_id")
    secret = credentials.get("aws_secret_access_key")
    if not key or not secret:
        raise ProviderError(
            "invalid_credentials",
            "Amazon Braket needs options aws_access_key_id and aws_secret_access_key",
            field="options",
        )
    botocore_config = _botocore_config(config)
    with _aws_errors("session", credentials):  # e.g. AWS_PROFILE naming a missing profile
        boto_session = _session_class()(
            endpoint_url=config.braket_endpoint_url,
            botocore_config=botocore_config,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=credentials.get("aws_session_token") or None,
            region_name=region,
        )
        return AwsSession(boto_session=boto_session, config=botocore_config, default_bucket=bucket)


def _region(spec: _Spec, credentials: Mapping[str, str]) -> str:
    # A QPU is reached in its own region (else the SDK copies the session, losing our endpoint).
    return spec.region or credentials.get("aws_default_region") or DEFAULT_REGION


_CREDENTIAL_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
        "IncompleteSignature",
    }
)
_THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "SlowDown",
        "RequestLimitExceeded",
    }
)
_UNAVAILABLE_CODES = frozenset(
    {
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServiceException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "DeviceOfflineException",
    }
)


SECRET_NAMES = ("aws_secret_access_key", "aws_session_token", "aws_access_key_id")


def _scrub(text: str, credentials: Mapping[str, str]) -> str:
    secrets = {name: credentials[name] for name in SECRET_NAMES if credentials.get(name)}
    return str(without_secrets(text, secrets))


def _provider_error(
    error: Exception, operation: str, credentials: Mapping[str, str]
) -> ProviderError:
    from botocore import exceptions as aws

    if isinstance(error, aws.ClientError):
        response: dict[str, Any] = dict(error.response)
        code = str(response.get("Error", {}).get("Code") or "")
        message = str(response.get("Error", {}).get("Message") or "")
        metadata = response.get("ResponseMetadata", {})
        status = int(metadata.get("HTTPStatusCode") or 0)
        headers = {k.lower(): v for k, v in (metadata.get("HTTPHeaders") or {}).items()}
        text = _scrub(f"Amazon Braket {operation}: {code or status}: {message}", credentials)
        provider_code = code or str(status)
        if code in _THROTTLING_CODES or status == 429:
            return ProviderError(
                "rate_limited",
                text,
                retryable=True,
                provider_code=provider_code,
                retry_after=retry_after_seconds(headers.get("retry-after")),
            )
        if code in _CREDENTIAL_CODES or status in (401, 403):
            return ProviderError(
                "invalid_credentials", text, provider_code=provider_code, field="options"
            )
        if code in _UNAVAILABLE_CODES or status >= 500:
            return ProviderError(
                "provider_unavailable",
                text,
                retryable=True,
                provider_code=provider_code,
                retry_after=retry_after_seconds(headers.get("retry-after")),
            )
        return ProviderError("provider_rejected", text, provider_code=provider_code)
    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError):
        return ProviderError(
            "invalid_credentials",
            f"Amazon Braket {operation}: incomplete AWS credentials",
            field="options",
        )
    if isinstance(error, aws.ConnectTimeoutError | aws.ReadTimeoutError):
        return ProviderError(
            "provider_timeout",
            _scrub(f"Amazon Braket {operation}: {type(error).__name__}: {error}", credentials),
            retryable=True,
            provider_code=type(error).__name__,
        )
    if isinstance(error, aws.EndpointConnectionError | aws.ConnectionError | aws.HTTPClientError):
        return ProviderError(
            "provider_unavailable",
            _scrub(f"Amazon Braket {operation}: {type(error).__name__}: {error}", credentials),
            retryable=True,
            provider_code=type(error).__name__,
        )
    if isinstance(error, ValueError):  # the SDK's own refusals ("device not found", ...)
        return ProviderError(
            "provider_rejected",
            _scrub(f"Amazon Braket {operation}: {error}", credentials),
            provider_code=type(error).__name__,
        )
    return ProviderError(
        "provider_failed",
        _scrub(f"Amazon Braket {operation}: {type(error).__name__}: {error}", credentials),
        provider_code=type(error).__name__,
    )


@contextmanager
def _aws_errors(operation: str, credentials: Mapping[str, str]) -> Iterator[None]:
    try:
        yield
    except ProviderError:
        raise
    except Exception as error:
        raise _provider_error(error, operation, credentials) from None


def client_token(base: str, index: int) -> str:
    """Braket clientToken of the job's task `index`: the job's token, then `<token>-<i>`; a
    token too long for Braket (64 characters) is replaced by a digest of it first."""
    if len(base) + len(f"-{index}") > MAX_TOKEN:
        base = hashlib.sha256(base.encode()).hexdigest()[:40]
    return base if index == 0 else f"{base}-{index}"


class _TokenHook:
    """Sets CreateQuantumTask's clientToken (the SDK has no argument for it); per thread, since
    a job's tasks are created concurrently."""

    def __init__(self) -> None:
        self._local = threading.local()

    @property
    def token(self) -> str | None:
        token: str | None = getattr(self._local, "token", None)
        return token

    @token.setter
    def token(self, value: str | None) -> None:
        self._local.token = value

    def __call__(self, params: dict[str, Any], **kwargs: Any) -> None:
        if self.token is not None:
            params["clientToken"] = self.token


CONCURRENT_CALLS = 8
"""Braket calls a job makes at once (botocore's connection pool holds 10)."""


def _in_parallel(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """`function` over `items`, answers in order; the first failure (in order) is raised after
    the others have finished. Only for thread-safe work: boto3 clients are, boto3 sessions
    (creating clients or resources) are not."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(CONCURRENT_CALLS, len(items))) as pool:
        return list(pool.map(function, items))


# --- remote devices -------------------------------------------------------------------------------


def submit_task(
    task: ExecutionTask, device: Device, credentials: dict[str, str], config: ProviderConfig
) -> ProviderJob:
    """One CreateQuantumTask per circuit x parameter set x measurement group, through
    `AwsDevice.run`; task i carries the clientToken `client_token(task.client_token, i)`."""
    from braket.aws import AwsDevice
    from braket.ir.openqasm import Program

    spec = _spec(device)
    if spec.arn is None:
        raise ProviderError("invalid_task", f"{spec.id} is a local simulator: run it, not submit")
    check_request(device, task.run_type, task.options, task.use_mitigation)
    options = _parse_options(task.options)
    mitigation = _mitigation(spec, task.run_type, task.use_mitigation)
    loaded = _load_task(task, spec)
    programs = _programs(loaded, spec, options, statevector=False)
    region = _region(spec, credentials)
    session = _session(credentials, config, region, options.s3_bucket or config.braket_s3_bucket)
    with _aws_errors("GetDevice", credentials):
        aws_device = AwsDevice(spec.arn, aws_session=session)
    with _aws_errors("results bucket", credentials):
        bucket = session.default_bucket()  # without one configured: the SDK's default bucket
    device_parameters: dict[str, Any] = {}
    if mitigation == "debias":
        _check_debias_shots(task.shots, _debias_minimum(aws_device))
        device_parameters["errorMitigation"] = [{"type": _DEBIAS}]
    hook = _TokenHook()
    events = aws_device.aws_session.braket_client.meta.events
    events.register("before-parameter-build.braket.CreateQuantumTask", hook)
    base = task.client_token or task.job_id
    prefix = f"{config.braket_s3_prefix.strip('/')}/{task.job_id}"
    work = [
        (values, program)
        for circuit, circuit_programs in zip(loaded, programs, strict=True)
        for values in circuit.values
        for program in circuit_programs
    ]

    def create(indexed: tuple[int, tuple[tuple[float, ...], _Program]]) -> str:
        index, (values, program) = indexed
        hook.token = client_token(base, index)
        inputs = {name: values[k] for name, k in program.inputs}
        with _aws_errors("CreateQuantumTask", credentials):
            created = aws_device.run(
                Program(source=program.source, inputs=inputs or None),
                s3_destination_folder=(bucket, prefix),
                shots=task.shots,
                device_parameters=copy.deepcopy(device_parameters) or None,
                quiet=True,
            )
        return str(created.id)

    arns = _in_parallel(create, list(enumerate(work)))
    data = {
        "device_arn": spec.arn,
        "region": region,
        "bucket": bucket,
        "prefix": prefix,
        "shots": task.shots,
        "mitigation": mitigation or "none",
        "circuits": [
            {
                "sets": len(circuit.values),
                "clbits": [list(program.clbits) for program in circuit_programs],
                "shape": circuit_programs[0].shape,
            }
            for circuit, circuit_programs in zip(loaded, programs, strict=True)
        ],
    }
    return ProviderJob(PROVIDER, tuple(arns), data)


_DEBIAS = "braket.device_schema.error_mitigation.debias.Debias"


def _debias_minimum(aws_device: Any) -> int:
    try:
        from braket.device_schema.error_mitigation import Debias

        schemes = aws_device.properties.provider.errorMitigation or {}
        return int(schemes[Debias].minimumShots)
    except Exception:
        return DEBIAS_MINIMUM_SHOTS


_FAILURE_CODE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.]*)\s*:")


def poll_task(
    task: ExecutionTask,
    device: Device,
    job: ProviderJob,
    credentials: dict[str, str],
    config: ProviderConfig,
) -> ExecutionOutcome | None:
    """GetQuantumTask for every task; when all are COMPLETED, their results.json from S3."""
    spec = _spec(device)
    region = str(job.data.get("region") or _region(spec, credentials))
    session = _session(credentials, config, region, job.data.get("bucket"))
    braket_client = session.braket_client

    def state(arn: str) -> dict[str, Any]:
        with _aws_errors("GetQuantumTask", credentials):
            answer: dict[str, Any] = braket_client.get_quantum_task(quantumTaskArn=arn)
        return answer

    states = _in_parallel(state, list(job.ids))
    for arn, metadata in zip(job.ids, states, strict=True):
        status = metadata.get("status")
        if status == "FAILED":
            reason = str(metadata.get("failureReason") or "")
            code = _FAILURE_CODE.match(reason)
            raise ProviderError(
                "provider_failed",
                _scrub(
                    f"Amazon Braket task {arn} failed: {reason or 'no reason given'}", credentials
                ),
                provider_code=code.group(1) if code else "FAILED",
            )
        if status in ("CANCELLED", "CANCELLING"):
            raise ProviderError(
                "provider_cancelled",
                f"Amazon Braket task {arn} was cancelled",
                provider_code=status,
            )
    if any(metadata.get("status") != "COMPLETED" for metadata in states):
        return None
    with _aws_errors("S3 client", credentials):
        s3 = session.s3_client  # made here, once: creating clients is not thread-safe

    def download(metadata: dict[str, Any]) -> GateModelQuantumTaskResult:
        key = f"{metadata['outputS3Directory']}/results.json"
        with _aws_errors("GetObject results.json", credentials):
            body = s3.get_object(Bucket=metadata["outputS3Bucket"], Key=key)["Body"].read()
        return _task_result(body.decode())

    results = _in_parallel(download, states)
    layouts = _remote_layouts(task, spec, job)
    return ExecutionOutcome(
        circuits=_collect(layouts, iter(results)),
        metadata={
            "device": spec.id,
            "provider": PROVIDER,
            "device_arn": job.data.get("device_arn"),
            "shots": job.data.get("shots", task.shots),
            "mitigation": "IonQ debiasing" if job.data.get("mitigation") == "debias" else "none",
            "provider_job_ids": list(job.ids),
            "braket_tasks": len(job.ids),
        },
    )


def _task_result(text: str) -> GateModelQuantumTaskResult:
    """A results.json as the SDK's AwsQuantumTask.result() reads it."""
    from braket.schema_common import BraketSchemaBase
    from braket.task_result import GateModelTaskResult
    from braket.tasks import GateModelQuantumTaskResult

    try:
        parsed = BraketSchemaBase.parse_raw_schema(text)
        if not isinstance(parsed, GateModelTaskResult):
            raise TypeError(f"expected a gate model result, got {type(parsed).__name__}")
        GateModelQuantumTaskResult.cast_result_types(parsed)
        return GateModelQuantumTaskResult.from_object(parsed)
    except Exception as error:
        raise ProviderError(
            "provider_failed", f"Amazon Braket returned an unreadable result: {error}"
        ) from error


def _remote_layouts(task: ExecutionTask, spec: _Spec, job: ProviderJob) -> list[_Layout]:
    """What polling needs to map results back: bit maps and shapes from the job's data, the
    measurement plans (pure grouping, no transpiling) recomputed from the task."""
    recorded = job.data.get("circuits") or []
    observed = [bool(c.observables) for c in task.circuits]
    loaded = _load_task(task, spec) if any(observed) else None
    layouts: list[_Layout] = []
    for index, entry in enumerate(recorded):
        layouts.append(
            _Layout(
                sets=int(entry["sets"]),
                clbits=[tuple(int(q) for q in bits) for bits in entry["clbits"]],
                shape={k: int(v) for k, v in entry["shape"].items()},
                plan=loaded[index].plan if loaded is not None else None,
            )
        )
    expected = sum(layout.sets * len(layout.clbits) for layout in layouts)
    if expected != len(job.ids):
        raise ProviderError(
            "provider_failed", f"the job recorded {len(job.ids)} Braket tasks, expected {expected}"
        )
    return layouts


def cancel_task(
    device: Device, job: ProviderJob, credentials: dict[str, str], config: ProviderConfig
) -> None:
    """CancelQuantumTask for every task of the job; finished ones (ConflictException) are fine."""
    spec = _spec(device)
    region = str(job.data.get("region") or _region(spec, credentials))
    session = _session(credentials, config, region, job.data.get("bucket"))
    failure: ProviderError | None = None
    for arn in job.ids:
        try:
            with _aws_errors("CancelQuantumTask", credentials):
                session.cancel_quantum_task(arn)
        except ProviderError as error:
            if error.provider_code in ("ConflictException", "ResourceNotFoundException"):
                continue
            if error.code == "invalid_credentials":
                raise
            failure = failure or error
    if failure is not None:
        raise failure


def live_status(
    devices: list[Device], credentials: dict[str, str], config: ProviderConfig
) -> dict[str, dict[str, Any]]:
    """GetDevice per remote device: its status and the quantum-task queue depth."""
    status: dict[str, dict[str, Any]] = {}
    by_region: dict[str, list[_Spec]] = {}
    for device in devices:
        spec = _SPECS.get(device.id)
        if spec is None:
            continue
        if not spec.remote:
            status[spec.id] = {"status": "online", "queue_length": 0}
            continue
        by_region.setdefault(_region(spec, credentials), []).append(spec)
    for region, specs in by_region.items():
        session = _session(credentials, config, region, None)
        for spec in specs:
            assert spec.arn is not None
            try:
                with _aws_errors("GetDevice", credentials):
                    answer = session.braket_client.get_device(deviceArn=spec.arn)
            except ProviderError as error:
                if error.code in (
                    "invalid_credentials",
                    "provider_unavailable",
                    "provider_timeout",
                    "rate_limited",
                ):
                    raise
                status[spec.id] = {"status": "unknown", "queue_length": None}
                continue
            status[spec.id] = {
                "status": str(answer.get("deviceStatus") or "unknown").lower(),
                "queue_length": _queue_length(answer.get("deviceQueueInfo")),
            }
    return status


def _queue_length(queues: Any) -> int | None:
    """Quantum tasks waiting (normal + priority); Braket writes '>4000' past its cap."""
    if not queues:
        return None
    total, seen = 0, False
    for queue in queues:
        if queue.get("queue") != "QUANTUM_TASKS_QUEUE":
            continue
        digits = re.sub(r"\D", "", str(queue.get("queueSize") or ""))
        if digits:
            total += int(digits)
            seen = True
    return total if seen else None
