"""The run request as plain data, and its validation as pure functions over plain data.

Shapes accepted on the wire (see README, "Conventions"):
- parameters: `[circuit][parameter_set][value]`; for a single circuit also `[parameter_set][value]`.
  Values bind in `circuit.parameters` order (Qiskit sorts parameters by name).
- observables: `[circuit][observable]`, each observable `[pauli_strings, coefficients]`; for a
  single circuit also a list of observables, or one bare observable. Labels are in Qiskit order:
  the rightmost character acts on qubit 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from qorch.domain.circuit import CircuitFacts
from qorch.domain.devices import Device
from qorch.domain.dynamic import check_dynamic
from qorch.domain.errors import RequestError
from qorch.domain.fields import TextLimits
from qorch.domain.statevector import check_statevector_fits

RUN_TYPES = ("Run", "StatevectorRun")
PAULI_LABEL = re.compile(r"^[IXYZ]+$")

# Provider credentials named by the wire format; anything that looks like a secret is treated the
# same way, so a credential under an unexpected name is never recorded either.
CREDENTIAL_OPTIONS = frozenset(
    {
        "ibm_quantum_token",
        "ibm_quantum_instance",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_default_region",
        "ionq_api_key",
    }
)
SECRET_LOOKING = re.compile(
    r"token|secret|passw|api_?key|access_?key|private_?key|credential|auth|bearer|session|"
    r"cookie|signature|^key$|^pat$",
    re.I,
)
MAX_COEFFICIENT = 1e12


@dataclass(frozen=True)
class Limits:
    max_circuits: int = 300
    max_shots: int = 10_000_000
    max_parameter_sets: int = 100_000
    max_observables: int = 10_000
    statevector_max_qubits: int = 24
    """Qubits of a StatevectorRun held as a dense state (a sparse method with observables goes
    beyond: see `check_statevector_fits`)."""
    machine_memory_mb: int = 0
    """MiB of memory of the machine that runs local jobs (0: not checked)."""
    max_result_values: int = 4_000_000
    """Numbers a job's results may hold (distributions, amplitudes, expectation values)."""
    text: TextLimits = field(default_factory=TextLimits)
    """Lengths of names, descriptions, tags and client-chosen keys."""
    max_qubits: int = 4096
    max_clbits: int = 4096
    """Per circuit, counted on the parsed circuit (register sizes may be expressions)."""
    max_gates: int = 100_000
    """Operations per circuit once gate definitions and known loop counts are expanded."""
    max_pauli_terms: int = 2_000
    """Terms per observable (grouping them is quadratic: 5,000 terms take seconds)."""
    max_job_pauli_terms: int = 100_000
    """Terms over all observables of a job."""


@dataclass(frozen=True)
class RunRequest:
    experiment_id: str
    circuit_ids: list[str] | None = None
    circuits_qasm: list[str] | None = None
    device_id: str = ""
    shots: int = 1024
    parameters: Any = None
    observables: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    use_mitigation: bool = False
    name: str = ""
    description: str = ""
    dry_run: bool = False
    run_type: str = "Run"
    callback_url: str | None = None
    """Receives this job's status changes, signed (domain/webhook.py checks it when saved)."""


@dataclass(frozen=True)
class RunPlan:
    """A request checked against its circuits and device, in canonical (per-circuit) shapes."""

    parameters: list[list[list[float]]] | None
    observables: list[list[list[Any]]] | None
    options: dict[str, Any]
    credentials: dict[str, Any]


def check_request_shape(request: RunRequest, limits: Limits) -> None:
    """Checks what can be checked before looking at circuits or devices."""
    given = [
        name for name in ("circuit_ids", "circuits_qasm") if getattr(request, name) is not None
    ]
    if len(given) != 1:
        raise RequestError(
            "circuit_ids/circuits_qasm",
            "give exactly one of circuit_ids (stored circuits) or circuits_qasm (OpenQASM text)",
        )
    circuits = request.circuit_ids if request.circuit_ids is not None else request.circuits_qasm
    assert circuits is not None
    if not circuits:
        raise RequestError(given[0], "must list at least one circuit")
    if len(circuits) > limits.max_circuits:
        raise RequestError(given[0], f"at most {limits.max_circuits} circuits per job")
    if isinstance(request.shots, bool) or not isinstance(request.shots, int) or request.shots < 1:
        raise RequestError("shots", "must be an integer of at least 1")
    if request.shots > limits.max_shots:
        raise RequestError("shots", f"must be at most {limits.max_shots}")
    if request.run_type not in RUN_TYPES:
        raise RequestError("run_type", f"must be one of {', '.join(RUN_TYPES)}")
    if not isinstance(request.options, dict):
        raise RequestError("options", "must be an object")


def split_credentials(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separates provider credentials from backend options; only the latter are ever recorded."""
    clean: dict[str, Any] = {}
    credentials: dict[str, Any] = {}
    for key, value in options.items():
        if key in CREDENTIAL_OPTIONS or SECRET_LOOKING.search(key):
            credentials[key] = value
        else:
            clean[key] = value
    return clean, credentials


def check_credential_values(credentials: dict[str, Any]) -> None:
    """Credentials are plain tokens: a stray newline or space (a pasted key) is refused here,
    because an SDK refusing it would quote the value in its error message."""
    for name, value in credentials.items():
        if not isinstance(value, str) or not value:
            raise RequestError(f"options.{name}", "must be a non-empty string")
        if any(character.isspace() or not character.isprintable() for character in value):
            raise RequestError(
                f"options.{name}", "must not contain spaces, newlines or control characters"
            )


def plan_run(
    request: RunRequest, circuits: Sequence[CircuitFacts], device: Device, limits: Limits
) -> RunPlan:
    """Checks the request against its circuits and device; returns canonical shapes."""
    for index, circuit in enumerate(circuits):
        check_circuit_fits(circuit, index, device, request.run_type, limits)
    parameters = normalise_parameters(request.parameters, circuits, limits)
    observables = normalise_observables(request.observables, circuits, limits)
    if request.run_type == "StatevectorRun":
        for index, circuit in enumerate(circuits):
            check_statevector_fits(circuit, index, device, observables is not None, limits)
    if request.run_type == "Run" and observables is None:
        for index, circuit in enumerate(circuits):
            if not circuit.has_measurements:
                raise RequestError(
                    f"circuits[{index}]",
                    "has no measurements: add measurements, pass observables, "
                    "or use run_type StatevectorRun",
                )
    check_result_size(request, circuits, parameters, observables, limits)
    options, credentials = split_credentials(request.options)
    return RunPlan(parameters, observables, options, credentials)


def check_result_size(
    request: RunRequest,
    circuits: Sequence[CircuitFacts],
    parameters: list[list[list[float]]] | None,
    observables: list[list[list[Any]]] | None,
    limits: Limits,
) -> None:
    """Refuses jobs whose results would not fit in memory or in one answer."""
    total = 0
    for index, circuit in enumerate(circuits):
        sets = len(parameters[index]) if parameters is not None else 1
        if observables is not None:
            per_set = len(observables[index]) * 2
        elif request.run_type == "StatevectorRun":
            per_set = 3 * 2**circuit.qubits
        else:
            clbits = int(circuit.metrics.get("clbits", circuit.qubits))
            per_set = 3 * min(request.shots, 2 ** min(clbits, 62))
        total += sets * per_set
    if total > limits.max_result_values:
        raise RequestError(
            "parameters" if parameters is not None else "circuits",
            f"the results would hold about {total:,} numbers (limit {limits.max_result_values:,}):"
            " use fewer parameter sets or shots, or observables instead of full distributions",
        )


def check_circuit_fits(
    circuit: CircuitFacts, index: int, device: Device, run_type: str, limits: Limits
) -> None:
    if run_type == "StatevectorRun" and not device.supports_statevector:
        raise RequestError(
            "device_id", f"{device.id} cannot run StatevectorRun (use a local ideal simulator)"
        )
    if circuit.qubits > device.qubits:
        raise RequestError(
            f"circuits[{index}]",
            f"has {circuit.qubits} qubits but device {device.id} has {device.qubits}",
        )
    check_dynamic(circuit, index, device, run_type)


def normalise_parameters(
    raw: Any, circuits: Sequence[CircuitFacts], limits: Limits
) -> list[list[list[float]]] | None:
    if raw is None:
        if any(circuit.parameters for circuit in circuits):
            index = next(i for i, c in enumerate(circuits) if c.parameters)
            names = ", ".join(circuits[index].parameters)
            raise RequestError(
                "parameters",
                f"circuits[{index}] has free parameters ({names}): give values for them",
            )
        return None
    if not isinstance(raw, list):
        raise RequestError("parameters", "must be a list: [circuit][parameter_set][value]")
    if len(circuits) == 1 and _depth(raw) <= 2:
        raw = [raw]
    per_circuit: list[list[list[float]]] = []
    for c, sets, circuit in _per_circuit("parameters", "parameter sets", raw, circuits):
        if len(sets) > limits.max_parameter_sets:
            raise RequestError(
                f"parameters[{c}]", f"at most {limits.max_parameter_sets} parameter sets"
            )
        expected = len(circuit.parameters)
        if expected == 0 and len(sets) > 1:
            raise RequestError(
                f"parameters[{c}]",
                f"circuits[{c}] has no parameters: give one empty parameter set ([[]])",
            )
        checked: list[list[float]] = []
        for s, values in enumerate(sets):
            field_name = f"parameters[{c}][{s}]"
            if not isinstance(values, list):
                raise RequestError(field_name, "must be a list of numbers")
            if len(values) != expected:
                names = ", ".join(circuit.parameters) or "none"
                raise RequestError(
                    field_name,
                    f"has {len(values)} values but circuits[{c}] has {expected} parameters "
                    f"({names}, bound in this order)",
                )
            checked.append(_finite_numbers(values, field_name))
        per_circuit.append(checked)
    return per_circuit


def _per_circuit(
    field_name: str, what: str, raw: list[Any], circuits: Sequence[CircuitFacts]
) -> Iterator[tuple[int, list[Any], CircuitFacts]]:
    """Each circuit's entry of a `[circuit][...]` list, checked to be a non-empty list."""
    if len(raw) != len(circuits):
        raise RequestError(
            field_name,
            f"expected one list of {what} per circuit ({len(circuits)}), got {len(raw)}",
        )
    for c, (entry, circuit) in enumerate(zip(raw, circuits, strict=True)):
        if not isinstance(entry, list) or not entry:
            raise RequestError(f"{field_name}[{c}]", f"must be a non-empty list of {what}")
        yield c, entry, circuit


def normalise_observables(
    raw: Any, circuits: Sequence[CircuitFacts], limits: Limits
) -> list[list[list[Any]]] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        raise RequestError("observables", "must be a non-empty list: [circuit][observable]")
    if len(circuits) == 1:
        if _is_observable(raw):
            raw = [[raw]]
        elif all(_is_observable(item) for item in raw):
            raw = [raw]
    per_circuit: list[list[list[Any]]] = []
    terms = 0
    for c, observables, circuit in _per_circuit("observables", "observables", raw, circuits):
        if len(observables) > limits.max_observables:
            raise RequestError(f"observables[{c}]", f"at most {limits.max_observables} observables")
        checked: list[list[Any]] = []
        for o, observable in enumerate(observables):
            field_name = f"observables[{c}][{o}]"
            checked.append(_checked_observable(observable, field_name, circuit.qubits, limits))
            terms += len(checked[-1][0])
            if terms > limits.max_job_pauli_terms:
                raise RequestError(
                    field_name,
                    f"the job's observables hold more than {limits.max_job_pauli_terms:,} Pauli "
                    "terms in all (QORCH_MAX_JOB_PAULI_TERMS)",
                )
        per_circuit.append(checked)
    return per_circuit


def _checked_observable(observable: Any, field_name: str, qubits: int, limits: Limits) -> list[Any]:
    if not _is_pair(observable):
        raise RequestError(field_name, "must be [pauli_strings, coefficients]")
    labels, coefficients = observable
    if not isinstance(labels, list) or not labels:
        raise RequestError(field_name, "pauli_strings must be a non-empty list of strings")
    if len(labels) > limits.max_pauli_terms:
        raise RequestError(
            field_name,
            f"has {len(labels):,} Pauli terms, over the limit of {limits.max_pauli_terms:,} per "
            "observable (QORCH_MAX_PAULI_TERMS)",
        )
    if not isinstance(coefficients, list) or len(coefficients) != len(labels):
        raise RequestError(
            field_name, "coefficients must be a list with one number per Pauli string"
        )
    for label in labels:
        if not isinstance(label, str) or not PAULI_LABEL.match(label):
            raise RequestError(
                field_name, f"Pauli string {label!r} may only contain the letters I, X, Y, Z"
            )
        if len(label) != qubits:
            raise RequestError(
                field_name,
                f"Pauli string {label!r} has length {len(label)} but the circuit has "
                f"{qubits} qubits (rightmost character = qubit 0)",
            )
    values = [_finite_number(v, field_name + " coefficients") for v in coefficients]
    if any(abs(v) > MAX_COEFFICIENT for v in values):
        raise RequestError(field_name, f"coefficients must be at most {MAX_COEFFICIENT:g} in size")
    return [list(labels), values]


def _is_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2


def _is_observable(value: Any) -> bool:
    return (
        _is_pair(value)
        and isinstance(value[0], list)
        and bool(value[0])
        and all(isinstance(label, str) for label in value[0])
        and isinstance(value[1], list)
    )


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    return depth


NUMBER_TYPES = frozenset({int, float})


def _finite_numbers(values: list[Any], field_name: str) -> list[float]:
    """Checks a list of numbers; sweeps are large, so the common case avoids a call per value."""
    if {type(v) for v in values} <= NUMBER_TYPES:
        try:
            numbers = list(map(float, values))
        except OverflowError:
            numbers = []
        if len(numbers) == len(values) and all(map(math.isfinite, numbers)):
            return numbers
    return [_finite_number(v, field_name) for v in values]


def _finite_number(value: Any, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(field_name, f"{value!r} is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise RequestError(field_name, "a value is out of range for a float") from None
    if not math.isfinite(number):
        raise RequestError(field_name, f"{value!r} is not a finite number")
    return number
