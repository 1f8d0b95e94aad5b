"""Local testing mode on a copy of the device cut down to the physical qubits a job uses.

Measured trap: the client-side Estimator measures every qubit of its circuit (basis changes on
all 127 qubits of an Eagle), so Aer cannot simulate it on a big device ("requires more memory
than max_memory_mb"), and even a 2-qubit Sampler job costs 3.5 s there (noise model of 127
qubits rebuilt per job). A copy of the device restricted to the qubits used (its target, hence
its noise, kept qubit by qubit), built once per process per qubit set, runs Bell on FakeBrisbane
in ~0.1 s instead of 3.5 s, and the Estimator works (TREX included).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qorch.adapters.providers.ibm.catalogue import LOCAL_MAX_QUBITS, fake_backend
from qorch.adapters.providers.ibm.circuits import Prepared
from qorch.domain.execution import ProviderError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp
    from qiskit.transpiler import Target
    from qiskit_aer import AerSimulator


@dataclass(frozen=True)
class Restriction:
    qubits: tuple[int, ...]
    """Physical qubits kept, in order (new index = position)."""
    simulator: Any


def restrict(fake_class: str, chosen: list[Prepared]) -> tuple[list[QuantumCircuit], Restriction]:
    """The circuits on a copy of the device cut down to the physical qubits they use."""
    if any(_has_control_flow(p.isa) for p in chosen):
        # Remapping control-flow blocks is not worth it: simulate the whole device.
        everything = tuple(range(fake_backend(fake_class).num_qubits))
        return [p.isa for p in chosen], Restriction(everything, _full_simulator(fake_class))
    used: set[int] = set()
    for p in chosen:
        mine = _used_qubits(p)
        if len(mine) > LOCAL_MAX_QUBITS:
            raise ProviderError(
                "too_many_qubits",
                f"circuits[{p.index}]: uses {len(mine)} qubits of the device; local testing "
                f"mode simulates at most {LOCAL_MAX_QUBITS} (a noisy simulation is dense)",
            )
        used |= mine
    qubits = tuple(sorted(used))
    simulator = _restricted_simulator(fake_class, qubits)
    position = {qubit: index for index, qubit in enumerate(qubits)}
    return [_remap(p.isa, position) for p in chosen], Restriction(qubits, simulator)


def restrict_observable(observable: SparsePauliOp, qubits: Sequence[int]) -> SparsePauliOp:
    from qiskit.quantum_info import PauliList, SparsePauliOp

    keep = list(qubits)
    paulis = observable.paulis
    restricted = PauliList.from_symplectic(paulis.z[:, keep], paulis.x[:, keep], paulis.phase)
    return SparsePauliOp(restricted, observable.coeffs)


def _has_control_flow(circuit: QuantumCircuit) -> bool:
    return any(getattr(i.operation, "blocks", None) for i in circuit.data)


def _used_qubits(p: Prepared) -> set[int]:
    isa = p.isa
    used = {
        isa.find_bit(qubit).index
        for instruction in isa.data
        if instruction.operation.name != "barrier"
        for qubit in instruction.qubits
    }
    if isa.layout is not None:
        # Idle logical qubits still exist (an observable may read them as |0>).
        used.update(isa.layout.initial_index_layout(filter_ancillas=True))
    for observable in p.observables or []:
        support = np.any(observable.paulis.z | observable.paulis.x, axis=0)
        used.update(int(q) for q in np.flatnonzero(support))
    return used


def _remap(isa: QuantumCircuit, position: dict[int, int]) -> QuantumCircuit:
    from qiskit import QuantumCircuit, QuantumRegister

    small = QuantumCircuit(QuantumRegister(len(position), "q"), *isa.cregs)
    for instruction in isa.data:
        indices = [isa.find_bit(qubit).index for qubit in instruction.qubits]
        if instruction.operation.name == "barrier":
            kept = [small.qubits[position[i]] for i in indices if i in position]
            if kept:
                small.barrier(kept)
            continue
        small.append(
            instruction.operation,
            [small.qubits[position[i]] for i in indices],
            instruction.clbits,
            copy=False,
        )
    small.global_phase = isa.global_phase
    return small


@functools.lru_cache(maxsize=32)
def _restricted_simulator(fake_class: str, qubits: tuple[int, ...]) -> AerSimulator:
    """AerSimulator with the fake device's noise on `qubits` only (built once per process)."""
    from qiskit_aer import AerSimulator

    backend = fake_backend(fake_class)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        subset = _subset_backend_class()(
            _restricted_target(backend.target, qubits), f"{backend.name}{list(qubits)}"
        )
        return AerSimulator.from_backend(subset)


@functools.cache
def _full_simulator(fake_class: str) -> AerSimulator:
    from qiskit_aer import AerSimulator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AerSimulator.from_backend(fake_backend(fake_class))


def _restricted_target(target: Target, qubits: Sequence[int]) -> Target:
    """`target` on `qubits` only (renumbered 0..n-1), with their gate/readout properties."""
    from qiskit.transpiler import Target

    position = {qubit: index for index, qubit in enumerate(qubits)}
    properties = target.qubit_properties
    restricted = Target(
        num_qubits=len(qubits),
        dt=target.dt,
        granularity=target.granularity,
        min_length=target.min_length,
        pulse_alignment=target.pulse_alignment,
        acquire_alignment=target.acquire_alignment,
        qubit_properties=[properties[q] for q in qubits] if properties else None,
    )
    for name in target.operation_names:
        operation = target.operation_from_name(name)
        by_qargs = target[name]
        if isinstance(operation, type):  # variadic (control flow): global, no properties
            restricted.add_instruction(operation, name=name)
            continue
        if by_qargs is None or None in by_qargs:
            restricted.add_instruction(operation, {None: None}, name=name)
            continue
        kept = {
            tuple(position[q] for q in qargs): props
            for qargs, props in by_qargs.items()
            if all(q in position for q in qargs)
        }
        if kept:
            restricted.add_instruction(operation, kept, name=name)
    return restricted


@functools.cache
def _subset_backend_class() -> type:
    """Just enough of a BackendV2 for `AerSimulator.from_backend` (defined lazily: qiskit)."""
    from qiskit.providers import BackendV2, Options

    class SubsetBackend(BackendV2):  # type: ignore[misc]
        def __init__(self, target: Target, name: str) -> None:
            super().__init__(name=name)
            self._subset_target = target

        @property
        def target(self) -> Target:
            return self._subset_target

        @property
        def max_circuits(self) -> None:
            return None

        @classmethod
        def _default_options(cls) -> Options:
            return Options()

        def run(self, run_input: Any, **options: Any) -> Any:
            raise NotImplementedError("only used to build a simulator")

    return SubsetBackend
