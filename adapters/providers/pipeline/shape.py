"""The shape of a circuit as a device runs it: what dry runs price and results report."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiskit import QuantumCircuit


def transpiled_shape(isa: QuantumCircuit) -> dict[str, int]:
    """Qubits actually used, depth, and gate counts (gates_2q counts gates on 2+ qubits)."""
    from qiskit.circuit import Gate

    used: set[object] = set()
    gates_1q = gates_2q = 0
    for instruction in isa.data:
        operation = instruction.operation
        if operation.name in ("barrier", "delay"):
            continue
        used.update(instruction.qubits)
        if isinstance(operation, Gate):
            if operation.num_qubits == 1:
                gates_1q += 1
            else:
                gates_2q += 1
    return {"qubits": len(used), "depth": isa.depth(), "gates_1q": gates_1q, "gates_2q": gates_2q}
