"""Qiskit objects in qorch's wire format, and qorch's results back as Qiskit's containers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparseObservable, SparsePauliOp

PARAMETER_PREFIX = "qorch_p"
Observable = list[list[Any]]
"""`[pauli_strings, coefficients]`."""


@dataclass
class Entry:
    """One circuit of the qorch job, with its parameter sets and observables."""

    qasm: str
    parameter_sets: list[list[float]] = field(default_factory=lambda: [[]])
    observables: list[Observable] | None = None


def circuit_qasm(circuit: QuantumCircuit) -> str:
    """OpenQASM 3 whose parameters sort by name in `circuit.parameters` order.

    qorch binds values in name order; `qasm3.dumps` writes θ[10] as `_θ_10_`, which sorts
    before `_θ_2_` although Qiskit orders vector elements by index, so names are replaced by
    zero-padded ones that sort the same way."""
    parameters = list(circuit.parameters)
    if parameters:
        width = max(5, len(str(len(parameters) - 1)))
        renamed = {
            old: Parameter(f"{PARAMETER_PREFIX}{i:0{width}d}") for i, old in enumerate(parameters)
        }
        circuit = circuit.assign_parameters(renamed, inplace=False)
    return qasm3.dumps(circuit)


def parameter_rows(circuit: QuantumCircuit, values: Any) -> np.ndarray:
    """A BindingsArray's values as rows (one per parameter set, flattened in C order), columns
    in `circuit.parameters` order."""
    table = values.as_array(circuit.parameters) if circuit.parameters else values.as_array()
    return np.asarray(table, dtype=float).reshape(values.size, len(circuit.parameters))


def observable_wire(observable: SparseObservable) -> Observable:
    """Projector terms (`0`, `+`, ...) expanded into Paulis; coefficients real (the observables
    array already refused non-Hermitian ones)."""
    terms = SparsePauliOp.from_sparse_observable(observable).simplify().to_list()
    return [[label for label, _ in terms], [float(np.real(coeff)) for _, coeff in terms]]


def registers_of(circuit: QuantumCircuit, where: str) -> list[tuple[str, int]]:
    """(name, size) of each classical register in declaration order; qorch's bitstrings hold
    them concatenated, the first-declared rightmost, so every bit must be in exactly one."""
    registers = [(creg.name, creg.size) for creg in circuit.cregs]
    in_registers = [bit for creg in circuit.cregs for bit in creg]
    if len(in_registers) != circuit.num_clbits or len(set(in_registers)) != circuit.num_clbits:
        raise ValueError(
            f"{where}: every classical bit must belong to exactly one classical register "
            "(qorch's bitstrings are split into registers by position)"
        )
    if not registers:
        raise ValueError(
            f"{where}: the circuit has no classical registers: add measurements to sample it"
        )
    return registers


def packed_samples(
    counts_per_set: Sequence[Mapping[str, int]],
    registers: Sequence[tuple[str, int]],
    shots: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Per register, packed bits (as BitArray holds them) of shape (sets, shots, bytes).

    Counts carry no shot order: the shots of a set are shuffled (the same way for every
    register, so that registers stay correlated) and the first `shots` taken, a uniformly
    random subset when the job ran more shots than this PUB asked for."""
    width = sum(size for _, size in registers)
    arrays = {
        name: np.zeros((len(counts_per_set), shots, (size + 7) // 8), dtype=np.uint8)
        for name, size in registers
    }
    for index, counts in enumerate(counts_per_set):
        keys = list(counts)
        if any(len(key) != width for key in keys):
            raise ValueError(f"bitstrings of {width} bits expected, got {keys[:3]}")
        outcomes = np.repeat(np.arange(len(keys)), [int(counts[key]) for key in keys])
        if len(outcomes) < shots:
            raise ValueError(f"{len(outcomes)} shots came back, {shots} expected")
        chosen = rng.permutation(outcomes)[:shots]
        end = width
        for name, size in registers:
            nbytes = (size + 7) // 8
            rows = b"".join(
                int(key[end - size : end] or "0", 2).to_bytes(nbytes, "big") for key in keys
            )
            table = np.frombuffer(rows, dtype=np.uint8).reshape(len(keys), nbytes)
            arrays[name][index] = table[chosen]
            end -= size
    return arrays


def per_set(value: Any, with_parameters: bool) -> list[Any]:
    """A result level over parameter sets, which qorch leaves out when no parameters were sent."""
    return list(value) if with_parameters else [value]
