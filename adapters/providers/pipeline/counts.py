"""Counts per parameter set, from a Qiskit primitive's measured bits or a simulator's counts,
and counts as frequencies.

A bitstring holds every classical register's bits, registers in the circuit's order, the first
register's bit 0 rightmost, no spaces (what a Sampler's `join_data` gives); clbits in no register
are not reported, unless the circuit has no register at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.primitives import BitArray


def counts_per_set(bits: BitArray) -> list[dict[str, int]]:
    """Counts per parameter set of a (P, shots) BitArray; vectorised up to 64 bits."""
    packed = bits.array
    if packed.shape[-1] > 8:
        return [bits.get_counts(p) for p in range(bits.shape[0])]
    outcomes = np.zeros(packed.shape[:-1], dtype=np.uint64)
    for byte in range(packed.shape[-1]):  # big-endian bytes: the last holds clbits 0-7
        outcomes = (outcomes << np.uint64(8)) | packed[..., byte].astype(np.uint64)
    key = f"0{bits.num_bits}b"
    counts = []
    for row in outcomes:
        values, frequencies = np.unique(row, return_counts=True)
        counts.append(
            {format(v, key): f for v, f in zip(values.tolist(), frequencies.tolist(), strict=True)}
        )
    return counts


def reported_clbits(circuit: QuantumCircuit) -> list[int]:
    """The clbit index behind each character of a bitstring, rightmost character first."""
    registered = [circuit.find_bit(bit).index for register in circuit.cregs for bit in register]
    return registered or list(range(circuit.num_clbits))


class Bitstrings(dict[str, str]):
    """A simulator's hexadecimal memories over all `num_clbits` clbits (clbit i is bit i) as
    bitstrings of `clbits` (see `reported_clbits`), each made once: a sweep's parameter sets
    measure the same outcomes again and again (14 qubits x 300 sets x 4000 shots: about 500 000
    counts, 16 384 different outcomes at most)."""

    def __init__(self, clbits: Sequence[int], num_clbits: int) -> None:
        super().__init__()
        self.clbits = list(clbits)
        self.every = self.clbits == list(range(num_clbits))
        """The usual case: every clbit, in order (distinct memories, distinct bitstrings)."""
        self.key = f"0{len(self.clbits)}b"

    def __missing__(self, memory: str) -> str:
        value = int(memory, 16)
        if not self.every:
            value = sum(((value >> clbit) & 1) << i for i, clbit in enumerate(self.clbits))
        bitstring = self[memory] = format(value, self.key)
        return bitstring

    def counts(self, memory_counts: Mapping[str, int]) -> dict[str, int]:
        if self.every:
            bitstrings = map(self.__getitem__, memory_counts)
            return dict(zip(bitstrings, memory_counts.values(), strict=True))
        counts: dict[str, int] = {}
        for memory, n in memory_counts.items():
            bitstring = self[memory]
            counts[bitstring] = counts.get(bitstring, 0) + n  # dropped clbits merge outcomes
        return counts


def bitstring_counts(
    memory_counts: Mapping[str, int], clbits: Sequence[int], num_clbits: int
) -> dict[str, int]:
    """One set's counts as bitstrings (`Bitstrings`: keep one for the sets of a circuit)."""
    return Bitstrings(clbits, num_clbits).counts(memory_counts)


def frequencies(counts: Mapping[str, int]) -> dict[str, float]:
    """Counts divided by the shots they sum to (a distribution of measured outcomes)."""
    total = sum(counts.values())
    return {key: value / total for key, value in counts.items()}
