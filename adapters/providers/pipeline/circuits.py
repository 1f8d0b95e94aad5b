"""A task's circuits, parameter sets and observables, read and checked the same way by every
provider adapter (the errors name the circuit and the field, as the job will show them)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from qorch.adapters.providers.pipeline.shape import transpiled_shape
from qorch.domain.execution import CircuitTask, ObservableSpec, ProviderError

if TYPE_CHECKING:
    import numpy as np
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp
    from qiskit.transpiler import StagedPassManager


@lru_cache(maxsize=128)
def _parse(source: str) -> QuantumCircuit:
    # The same circuit is often run again with new parameters: parse it once per process.
    # Transpiling never mutates its input, so sharing the parsed circuit is safe.
    from qorch.adapters.qasm import parse_circuit  # imports Qiskit: not needed to list devices

    # Stored circuits passed the configured size limits when they were submitted.
    return parse_circuit(source, limits=None).circuit


def load_circuit(source: str, where: str) -> QuantumCircuit:
    try:
        return _parse(source)
    except ProviderError:
        raise
    except Exception as error:
        raise ProviderError("invalid_circuit", f"{where}: {error}") from error


def has_measurements(circuit: QuantumCircuit) -> bool:
    return any(instruction.operation.name == "measure" for instruction in circuit.data)


def parameter_sets(
    circuit: QuantumCircuit, given: tuple[tuple[float, ...], ...] | None, where: str
) -> list[tuple[float, ...]]:
    """The sets to bind, in `circuit.parameters` order; one empty set for a fixed circuit."""
    names = [parameter.name for parameter in circuit.parameters]
    if given is None:
        if names:
            raise ProviderError(
                "invalid_parameters",
                f"{where}: the circuit has parameters ({', '.join(names)}) but no parameter sets",
            )
        return [()]
    if not given:
        raise ProviderError("invalid_parameters", f"{where}: parameter_sets is empty")
    if not names and len(given) > 1:
        raise ProviderError(
            "invalid_parameters",
            f"{where}: the circuit has no parameters; give at most one (empty) parameter set",
        )
    sets: list[tuple[float, ...]] = []
    for number, values in enumerate(given):
        if len(values) != len(names):
            raise ProviderError(
                "invalid_parameters",
                f"{where}: parameter set {number} has {len(values)} values, the circuit has "
                f"{len(names)} parameters ({', '.join(names)})",
            )
        try:
            floats = tuple(float(value) for value in values)
        except (TypeError, ValueError) as error:
            raise ProviderError("invalid_parameters", f"{where}: {error}") from error
        if not all(math.isfinite(value) for value in floats):
            raise ProviderError("invalid_parameters", f"{where}: parameter values must be finite")
        sets.append(floats)
    return sets


def parameter_array(
    circuit: QuantumCircuit, given: tuple[tuple[float, ...], ...] | None, where: str
) -> np.ndarray:
    """`parameter_sets` as a (sets, parameters) array, for the primitives' broadcasting."""
    import numpy as np

    sets = parameter_sets(circuit, given, where)
    return np.array(sets, dtype=float).reshape(len(sets), circuit.num_parameters)


def values_kept_by(values: np.ndarray, circuit: QuantumCircuit, isa: QuantumCircuit) -> np.ndarray:
    """The columns of `values` the transpiled circuit still has (transpiling can drop a
    parameter, e.g. an rz right before a measurement)."""
    names = [parameter.name for parameter in circuit.parameters]
    kept = [names.index(parameter.name) for parameter in isa.parameters]
    return values if len(kept) == len(names) else values[:, kept]


def check_observables(specs: Sequence[ObservableSpec], width: int, where: str) -> None:
    for number, spec in enumerate(specs):
        label = f"{where}.observables[{number}]"
        if not spec.paulis or len(spec.paulis) != len(spec.coefficients):
            raise ProviderError(
                "invalid_observable", f"{label}: needs one coefficient per Pauli string"
            )
        for pauli in spec.paulis:
            if len(pauli) != width or set(pauli) - set("IXYZ"):
                raise ProviderError(
                    "invalid_observable",
                    f"{label}: {pauli!r} is not a Pauli string of {width} letters from IXYZ",
                )


def pauli_operators(specs: Sequence[ObservableSpec], width: int, where: str) -> list[SparsePauliOp]:
    from qiskit.quantum_info import SparsePauliOp

    check_observables(specs, width, where)
    return [
        SparsePauliOp.from_list(list(zip(spec.paulis, spec.coefficients, strict=True)))
        for spec in specs
    ]


def run_circuit(circuit_task: CircuitTask, where: str) -> tuple[QuantumCircuit, np.ndarray]:
    """A Run's circuit and its (sets, parameters) values: estimated circuits lose their final
    measurements, sampled ones must measure something."""
    circuit = load_circuit(circuit_task.source, where)
    values = parameter_array(circuit, circuit_task.parameter_sets, where)
    if circuit_task.observables:
        circuit = circuit.remove_final_measurements(inplace=False)
    elif not has_measurements(circuit):
        raise ProviderError(
            "no_measurements",
            f"{where}: the circuit measures nothing; add measurements or give observables",
        )
    return circuit, values


@dataclass
class Transpiled:
    isa: QuantumCircuit
    values: np.ndarray
    """(P, k) parameter sets in `isa.parameters` order (k may be 0 if transpiling dropped all)."""
    observables: list[SparsePauliOp] | None
    """Laid out on the physical qubits of `isa`."""
    shape: dict[str, int]
    seconds: float


REUSED_TRANSPILES = 64
REUSED_INSTRUCTIONS = 2000
"""At most this many transpiled circuits are kept for reuse, each of at most this many
instructions: a small job's transpiling costs more than its simulation (0.4 ms of passes for a
Bell circuit, in a worker woken for the job)."""

_reused: OrderedDict[tuple[object, Hashable], tuple[QuantumCircuit, dict[str, int]]] = OrderedDict()
_reusing = threading.Lock()


def transpiled(
    manager: StagedPassManager,
    circuit: QuantumCircuit,
    values: np.ndarray,
    observables: list[SparsePauliOp] | None,
    where: str,
    reuse: Hashable | None = None,
) -> Transpiled:
    """The circuit run through `manager`, with its values and observables following it.

    `reuse` names `circuit` (its source, and how it was derived from it): an earlier answer of
    `manager` for the same name is answered again, without running the passes. Only for a
    manager whose answer does not matter to the results (see `local.plan`): transpiled
    circuits are shared, never changed."""
    started = time.perf_counter()
    key = None if reuse is None else (manager, reuse)
    with _reusing:
        kept = None if key is None else _reused.get(key)
    if kept is not None:
        isa, shape = kept
        seconds = time.perf_counter() - started
    else:
        try:
            isa = manager.run(circuit)
        except Exception as error:
            raise ProviderError("transpile_failed", f"{where}: {error}") from error
        seconds = time.perf_counter() - started
        shape = transpiled_shape(isa)
    if key is not None and len(circuit) <= REUSED_INSTRUCTIONS:
        with _reusing:
            _reused[key] = (isa, shape)  # kept, or moved last: the least recently used goes
            _reused.move_to_end(key)
            if len(_reused) > REUSED_TRANSPILES:
                _reused.popitem(last=False)
    if observables is not None:
        observables = [observable.apply_layout(isa.layout) for observable in observables]
    return Transpiled(isa, values_kept_by(values, circuit, isa), observables, dict(shape), seconds)
