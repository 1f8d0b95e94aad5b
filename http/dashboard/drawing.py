"""Circuit drawings from Qiskit's own text drawer (no matplotlib needed), cached by source."""

from __future__ import annotations

from functools import lru_cache

from qorch.adapters.qasm import QasmError, parse_circuit

MAX_DRAWN_QUBITS = 64


@lru_cache(maxsize=256)
def draw_circuit(source: str) -> str:
    try:
        circuit = parse_circuit(source).circuit
    except (QasmError, ValueError) as exc:
        return f"(cannot draw this circuit: {exc})"
    if circuit.num_qubits > MAX_DRAWN_QUBITS:
        return f"(too wide to draw: {circuit.num_qubits} qubits)"
    return str(circuit.draw("text", fold=120, idle_wires=False))
