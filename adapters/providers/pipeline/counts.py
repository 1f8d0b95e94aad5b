"""Counts per parameter set from a Qiskit primitive's measured bits, and counts as frequencies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
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


def frequencies(counts: Mapping[str, int]) -> dict[str, float]:
    """Counts divided by the shots they sum to (a distribution of measured outcomes)."""
    total = sum(counts.values())
    return {key: value / total for key, value in counts.items()}
