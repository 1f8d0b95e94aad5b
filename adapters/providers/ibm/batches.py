"""A job's circuits split by primitive, and the PUBs each primitive runs.

Circuits with observables go to the Estimator (one PUB per circuit: observables x parameter sets
broadcast), the others to the Sampler (one PUB per circuit); a job with both makes two IBM jobs.
With readout correction, two calibration PUBs (every measured qubit in |0>, then in |1>) ride in
the Sampler's job, so the calibration is of the same device at the same time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from qorch.adapters.providers.ibm.circuits import Prepared
from qorch.adapters.providers.ibm.options import Mitigation
from qorch.adapters.providers.ibm.restrict import Restriction, restrict_observable
from qorch.adapters.providers.pipeline.mitigation.readout import measured_qubits

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp

KINDS = ("sampler", "estimator")

Restrict = Callable[[list[Prepared]], tuple[list["QuantumCircuit"], Restriction]]


@dataclass
class Batch:
    """The circuits of a job that go to one primitive."""

    kind: str
    circuits: list[Any]
    """`Prepared` circuits, or what result conversion needs of them (`Stub`) when polling."""
    executed: list[QuantumCircuit] = field(default_factory=list)
    """What the primitive runs, one per circuit (the ISA circuit, or its restriction)."""
    observables: list[list[SparsePauliOp]] = field(default_factory=list)
    """Per estimated circuit, its observables on `executed` qubits."""
    measured: dict[int, list[int] | str] = field(default_factory=dict)
    """Sampler with readout correction: circuit index -> qubit per clbit (or why skipped)."""
    calibrated: list[int] = field(default_factory=list)
    """Qubits of the calibration PUBs (appended after the circuits' PUBs)."""


def batches(
    prepared: list[Prepared], mitigation: Mitigation, restrict: Restrict | None = None
) -> list[tuple[Batch, Restriction | None]]:
    """Splits circuits by primitive; `restrict` (local mode) maps them to a smaller device."""
    found: list[tuple[Batch, Restriction | None]] = []
    for kind in KINDS:
        chosen = [p for p in prepared if (p.observables is None) == (kind == "sampler")]
        if not chosen:
            continue
        restriction: Restriction | None = None
        if restrict is not None:
            executed, restriction = restrict(chosen)
        else:
            executed = [p.isa for p in chosen]
        batch = Batch(kind=kind, circuits=list(chosen), executed=executed)
        if kind == "estimator":
            keep = restriction.qubits if restriction is not None else None
            for p in chosen:
                assert p.observables is not None
                batch.observables.append(
                    [restrict_observable(o, keep) if keep else o for o in p.observables]
                )
        elif mitigation.readout:
            for p, circuit in zip(chosen, executed, strict=True):
                batch.measured[p.index] = measured_qubits(circuit)
            batch.calibrated = sorted(
                {q for m in batch.measured.values() if not isinstance(m, str) for q in m}
            )
        found.append((batch, restriction))
    return found


def pubs(batch: Batch, shots: int) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    for number, (p, circuit) in enumerate(zip(batch.circuits, batch.executed, strict=True)):
        if batch.kind == "estimator":
            observables = [[o] for o in batch.observables[number]]
            # (O, 1) observables broadcast against (P, k) values -> evs of shape (O, P); with
            # nothing to bind, (P, 0) values still give one result per parameter set.
            values = p.values if p.values.shape[1] else np.zeros((p.sets, 0))
            found.append((circuit, observables, values))
        elif p.values.shape[1]:
            found.append((circuit, p.values, shots))
        else:
            # Nothing left to bind: one PUB per parameter set (all PUBs of a job take the
            # same shots, and a (P, 0) binding would not broadcast in the Sampler).
            found.extend((circuit, None, shots) for _ in range(p.sets))
    if batch.calibrated:
        width = batch.executed[0].num_qubits
        found.extend((c, None, shots) for c in _calibration_circuits(width, batch.calibrated))
    return found


def _calibration_circuits(width: int, qubits: Sequence[int]) -> list[QuantumCircuit]:
    """All of `qubits` prepared in |0>, then in |1>, measured (native gates: x, measure)."""
    from qiskit import ClassicalRegister, QuantumCircuit

    circuits = []
    for excited in (False, True):
        circuit = QuantumCircuit(width)
        circuit.add_register(ClassicalRegister(len(qubits), "cal"))
        if excited:
            for qubit in qubits:
                circuit.x(qubit)
        circuit.measure(list(qubits), list(range(len(qubits))))
        circuits.append(circuit)
    return circuits
