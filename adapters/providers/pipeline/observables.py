"""Expectation values from shots, for providers that only return measured bitstrings.

Pauli terms are grouped qubit-wise commuting (Qiskit's grouping): each group needs one measured
circuit, with a basis rotation per qubit (H for X, S†·H for Y) before measuring every qubit. A
term's value is the parity of its non-identity qubits averaged over the group's shots; an
observable's standard error combines its terms' sample variances (terms of one group share shots,
their covariance is included by evaluating the whole group's operator per shot).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qorch.domain.execution import ObservableSpec

if TYPE_CHECKING:
    from qiskit import QuantumCircuit


@dataclass(frozen=True)
class MeasurementPlan:
    circuits: list[QuantumCircuit]
    """One measured circuit per group of qubit-wise commuting Pauli labels."""
    groups: list[list[str]]
    """The Pauli labels (Qiskit order: rightmost = qubit 0) each circuit measures."""
    observables: list[ObservableSpec]


def measurement_circuits(
    circuit: QuantumCircuit, observables: Sequence[ObservableSpec]
) -> MeasurementPlan:
    """Measured circuits covering every term of `observables` (final measurements removed)."""
    from qiskit.quantum_info import PauliList

    base = circuit.remove_final_measurements(inplace=False)
    labels = sorted({label for spec in observables for label in spec.paulis})
    groups = [
        [pauli.to_label() for pauli in group]
        for group in PauliList(labels).group_qubit_wise_commuting()
    ]
    return MeasurementPlan(
        circuits=[_measured(base, _basis(group)) for group in groups],
        groups=groups,
        observables=list(observables),
    )


def expectation_values(
    plan: MeasurementPlan, counts: Sequence[dict[str, int]]
) -> tuple[list[float], list[float]]:
    """(value, standard error) per observable from each plan circuit's counts (same order)."""
    group_of = {label: index for index, group in enumerate(plan.groups) for label in group}
    values: list[float] = []
    errors: list[float] = []
    for spec in plan.observables:
        by_group: dict[int, list[tuple[str, float]]] = {}
        for label, coefficient in zip(spec.paulis, spec.coefficients, strict=True):
            by_group.setdefault(group_of[label], []).append((label, coefficient))
        value, variance = 0.0, 0.0
        for group, terms in by_group.items():
            mean, var_of_mean = _group_statistics(counts[group], terms)
            value += mean
            variance += var_of_mean
        values.append(value)
        errors.append(math.sqrt(variance))
    return values, errors


def _group_statistics(
    counts: dict[str, int], terms: list[tuple[str, float]]
) -> tuple[float, float]:
    shots = sum(counts.values())
    if shots == 0:
        raise ValueError("a measurement circuit returned no shots")
    total, total_sq = 0.0, 0.0
    for bits, count in counts.items():
        bits = bits.replace(" ", "")
        sample = sum(coefficient * _parity(bits, label) for label, coefficient in terms)
        total += count * sample
        total_sq += count * sample * sample
    mean = total / shots
    variance = max(total_sq / shots - mean * mean, 0.0)
    return mean, variance / shots


def _parity(bits: str, label: str) -> int:
    """+1 or -1: the product of the measured Z eigenvalues where `label` is not I."""
    ones = 0
    width = len(label)
    for qubit in range(width):
        if label[width - 1 - qubit] != "I" and bits[len(bits) - 1 - qubit] == "1":
            ones += 1
    return -1 if ones % 2 else 1


def _basis(group: list[str]) -> str:
    """The measurement basis per qubit of a commuting group (Qiskit order)."""
    width = len(group[0])
    basis = ["Z"] * width
    for label in group:
        for position, letter in enumerate(label):
            if letter != "I":
                basis[position] = letter
    return "".join(basis)


def _measured(base: QuantumCircuit, basis: str) -> QuantumCircuit:
    from qiskit import ClassicalRegister, QuantumCircuit

    width = base.num_qubits
    measured = QuantumCircuit(*base.qregs, name=f"{base.name}_{basis}")
    measured.compose(base, qubits=range(width), inplace=True)
    for qubit in range(width):
        letter = basis[width - 1 - qubit]
        if letter == "X":
            measured.h(qubit)
        elif letter == "Y":
            measured.sdg(qubit)
            measured.h(qubit)
    register = ClassicalRegister(width, "meas")
    measured.add_register(register)
    measured.measure(range(width), register)
    return measured
