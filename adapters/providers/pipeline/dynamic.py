"""Dynamic circuits in Qiskit terms: what a parsed circuit holds that makes it dynamic (recorded in
its metrics), and which dynamic-circuit features an executor runs (listed on its devices);
domain/dynamic.py names the features and holds the rule."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from qorch.domain.circuit import CONTROL_FLOW
from qorch.domain.dynamic import (
    MEASUREMENT_IN_CONTROL_FLOW,
    MID_CIRCUIT_MEASUREMENT,
    NESTED_CONTROL_FLOW,
    RESET,
)

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

_FINAL = frozenset({"measure", "barrier"})
"""What may follow a final measurement (Qiskit's RemoveFinalMeasurements agrees)."""


def mid_circuit_measurements(circuit: QuantumCircuit, measurements: int) -> int:
    """Of the circuit's `measurements` top-level measurements, those followed by an operation
    other than a measurement or barrier on their qubit, or by one that reads or writes their
    bit (a branch on it). Walks back from the end only as far as the first measurement."""
    busy: set[object] = set()
    count = 0
    for instruction in reversed(circuit.data):
        if not measurements:
            break
        name = instruction.operation.name
        if name == "measure":
            measurements -= 1
            if busy.intersection(instruction.qubits) or busy.intersection(instruction.clbits):
                count += 1
        elif name not in _FINAL:
            busy.update(instruction.qubits)
            busy.update(instruction.clbits)
    return count


def ops_in_control_flow(circuit: QuantumCircuit) -> dict[str, int]:
    """The operations other than gates inside the circuit's branches and loops, at any depth
    (each body counted once, however often it runs)."""
    from qiskit.circuit import ControlFlowOp, Gate

    found = Counter[str]()
    bodies = [
        block
        for instruction in circuit.data
        if isinstance(instruction.operation, ControlFlowOp)
        for block in instruction.operation.blocks
    ]
    while bodies:
        for instruction in bodies.pop().data:
            operation = instruction.operation
            if not isinstance(operation, Gate) or operation.num_qubits == 0:
                found[operation.name] += 1
            if isinstance(operation, ControlFlowOp):
                bodies.extend(operation.blocks)
    return dict(sorted(found.items()))


def aer_dynamic_circuits(method: str, target: Iterable[str] | None = None) -> tuple[str, ...]:
    """What Aer runs with `method` (its custom instructions, read from qiskit-aer), on a device
    whose target lists only the instructions `target` (None: Aer's own target)."""
    aer = _aer_instructions(method)
    allowed = aer if target is None else aer & set(target)
    control_flow = CONTROL_FLOW & allowed
    features = {MID_CIRCUIT_MEASUREMENT, *control_flow}
    if RESET in allowed:
        features.add(RESET)
    if control_flow:
        features |= {NESTED_CONTROL_FLOW, MEASUREMENT_IN_CONTROL_FLOW}
    return tuple(sorted(features))


@functools.cache
def _aer_instructions(method: str) -> frozenset[str]:
    from qiskit_aer import AerSimulator

    return frozenset(AerSimulator(method=method).configuration().custom_instructions)


def feedforward_dynamic_circuits(supported_instructions: Iterable[str]) -> tuple[str, ...]:
    """A QPU with measurement feedforward as IBM's were rolled out from June 2025: mid-circuit
    measurement, reset, and if/else where the device lists it; no loops, no switch, nothing
    nested in a branch and no measurement inside one."""
    listed = set(supported_instructions)
    features = {MID_CIRCUIT_MEASUREMENT} | ({RESET, "if_else"} & listed)
    return tuple(sorted(features))
