"""Circuit drawings from Qiskit's own text drawer (no matplotlib needed), cached by source.

Drawing is CPU work that grows with the circuit (a 64-qubit, 30,000-gate circuit takes tens of
seconds), so a page draws a circuit only below a size limit, judged from the circuit's recorded
metrics before anything is parsed; above it the page shows a plain notice at once. Below it the
drawing is made in a worker thread, a few at a time, and the page waits at most `timeout`
seconds for it (a drawing still under way then finishes in the background, bounded by the size
limit, and is cached for the next visit).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import anyio

from qorch.adapters.qasm import QasmError, parse_circuit

MAX_DRAWN_QUBITS = 64
DRAWINGS_AT_ONCE = 2


@dataclass(frozen=True)
class DrawingLimits:
    max_qubits: int = MAX_DRAWN_QUBITS
    max_operations: int = 1000
    timeout: float = 5.0


@lru_cache(maxsize=256)
def draw_circuit(source: str) -> str:
    try:
        circuit = parse_circuit(source).circuit
    except (QasmError, ValueError) as exc:
        return f"(cannot draw this circuit: {exc})"
    if circuit.num_qubits > MAX_DRAWN_QUBITS:
        return f"(too wide to draw: {circuit.num_qubits} qubits)"
    return str(circuit.draw("text", fold=120, idle_wires=False))


def too_large(circuit: dict[str, Any], limits: DrawingLimits) -> str | None:
    """The notice for a circuit above the limits, from its recorded metrics; None to draw it."""
    metrics = circuit.get("metrics") or {}
    qubits = int(circuit.get("qubits") or metrics.get("qubits") or 0)
    operations = int(metrics.get("gates_total") or 0) + sum(
        int(count) for count in (metrics.get("other_ops") or {}).values()
    )
    if qubits <= limits.max_qubits and operations <= limits.max_operations:
        return None
    return (
        f"(too large to draw here: {qubits} qubits, {operations} operations; the dashboard "
        f"draws circuits of at most {limits.max_qubits} qubits and {limits.max_operations} "
        "operations. The source is below.)"
    )


async def drawing_for(
    circuit: dict[str, Any], limits: DrawingLimits, limiter: anyio.CapacityLimiter
) -> str:
    notice = too_large(circuit, limits)
    if notice is not None:
        return notice
    source = circuit["qasm"]
    with anyio.move_on_after(limits.timeout):
        return await anyio.to_thread.run_sync(
            draw_circuit, source, limiter=limiter, abandon_on_cancel=True
        )
    return f"(this circuit took too long to draw: more than {limits.timeout:g} s)"
