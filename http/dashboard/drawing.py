"""Circuit drawings from Qiskit's own text drawer (no matplotlib needed), cached by source.

Drawing is CPU work that grows with the circuit (a 64-qubit, 30,000-gate circuit takes tens of
seconds), so a page draws a circuit only below a size limit, judged from the circuit's recorded
metrics before anything is parsed; above it the page shows a plain notice at once. Below it the
drawing is made in the parser processes (a few at a time, each user one at a time), where one
that takes longer than `timeout` seconds is stopped with its process; drawings are cached by the
circuit's content hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from qorch.adapters import circuit_sandbox
from qorch.adapters.circuit_sandbox import SandboxFailure
from qorch.adapters.qasm import QasmError, parse_circuit
from qorch.domain.errors import Busy

MAX_DRAWN_QUBITS = 64
DRAWINGS_AT_ONCE = 2


@dataclass(frozen=True)
class DrawingLimits:
    max_qubits: int = MAX_DRAWN_QUBITS
    max_operations: int = 1000
    timeout: float = 5.0


def draw_here(source: str) -> str:
    """In a parser process (the circuit was checked when it was stored, and its size against
    the drawing limits by `too_large`): Qiskit's text drawing."""
    try:
        circuit = parse_circuit(source, limits=None).circuit
    except (QasmError, ValueError) as exc:
        return f"(cannot draw this circuit: {exc})"
    return str(circuit.draw("text", fold=120, idle_wires=False))


def draw_circuit(source: str, timeout: float) -> str:
    """Drawn in the parser processes, like any parse of a user's circuit: a drawing that takes
    longer than `timeout` costs its process (killed and replaced), never the API process."""
    try:
        return circuit_sandbox.call(draw_here, source, timeout=timeout)
    except SandboxFailure:
        return f"(this circuit took too long to draw: more than {timeout:g} s)"


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
    key = str(circuit.get("hash") or circuit["id"])
    drawn = _drawn.get(key)
    if drawn is None:
        try:
            drawn = await anyio.to_thread.run_sync(
                draw_circuit, circuit["qasm"], limits.timeout, limiter=limiter
            )
        except Busy:
            return "(your other circuits are being drawn or parsed right now: reload in a moment)"
        _drawn[key] = drawn
        while len(_drawn) > CACHED_DRAWINGS:
            _drawn.pop(next(iter(_drawn)))
    return drawn


CACHED_DRAWINGS = 256
_drawn: dict[str, str] = {}
"""Drawings by circuit content hash (the event loop's alone: no lock)."""
