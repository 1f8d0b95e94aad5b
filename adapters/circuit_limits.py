"""Circuit size limits, checked where they cannot be dodged: on the parsed program and circuit.

Checking the text with a regex is easy to bypass (`qubit[10000*1000] q;`, a declaration that
does not start a line), and a few hundred bytes can ask a parser for 2^60 gates (gate
definitions calling the one before twice). So:

- `check_source_sizes` refuses literal register sizes anywhere in the text before a parser
  allocates them (OpenQASM 2 sizes can only be literals, so for QASM 2 this is complete);
- `check_qasm3_program` (adapters/qasm3_budget.py) walks the OpenQASM 3 syntax tree before
  qiskit-qasm3-import converts it;
- `check_circuit` checks the parsed circuit: qubits, clbits and the operation count after
  expanding custom gate definitions (memoised per gate, so 2^60 gates cost 60 steps), with
  control-flow bodies counted once per iteration where the iteration count is known.

All counts stop growing past the limit: nothing here builds or walks the expanded circuit.
"""

from __future__ import annotations

import re
from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp, ForLoopOp, Instruction, WhileLoopOp

from qorch.domain.requests import Limits


class CircuitLimitError(ValueError):
    """The circuit is well-formed but larger than this server accepts."""

    def __init__(self, detail: str, line: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.line = line


# --- the text: literal register sizes, wherever they are -------------------------------------

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_QASM2_REGISTER = re.compile(r"\b(qreg|creg)\s+[A-Za-z_]\w*\s*\[\s*(\d+)\s*\]")
_QASM3_REGISTER = re.compile(r"\b(qubit|bit)\s*\[\s*(\d+)\s*\]")
_PHYSICAL_QUBIT = re.compile(r"\$(\d+)")


def check_source_sizes(source: str, limits: Limits) -> None:
    """Refuses literal register sizes (alone or summed) over the limits, before any parser
    allocates them. Comments are blanked first (keeping line numbers), so a declaration inside a
    comment is not counted and one after a comment on the same line is."""
    text = _COMMENT.sub(lambda match: re.sub(r"[^\n]", " ", match[0]), source)
    totals = {"qubits": 0, "clbits": 0}
    for pattern in (_QASM2_REGISTER, _QASM3_REGISTER):
        for match in pattern.finditer(text):
            kind = "qubits" if match[1] in ("qreg", "qubit") else "clbits"
            totals[kind] += int(match[2])
            limit = limits.max_qubits if kind == "qubits" else limits.max_clbits
            if totals[kind] > limit:
                raise CircuitLimitError(
                    over_limit(kind, totals[kind], limit), text.count("\n", 0, match.start()) + 1
                )
    for match in _PHYSICAL_QUBIT.finditer(text):
        if int(match[1]) >= limits.max_qubits:
            raise CircuitLimitError(
                f"physical qubit ${match[1]} exceeds the limit of {limits.max_qubits} qubits "
                "(QORCH_MAX_QUBITS)",
                text.count("\n", 0, match.start()) + 1,
            )


def over_limit(kind: str, count: int, limit: int) -> str:
    env = {"qubits": "QORCH_MAX_QUBITS", "clbits": "QORCH_MAX_CLBITS"}[kind]
    return f"declares {count:,} {kind}, which exceeds the limit of {limit:,} ({env})"


def too_many_gates(limits: Limits) -> str:
    return (
        f"has more than {limits.max_gates:,} operations once gate definitions and loops are "
        "expanded, which exceeds the limit (QORCH_MAX_GATES)"
    )


# --- the parsed circuit --------------------------------------------------------------------

_LEAVES = frozenset({"measure", "reset", "barrier", "delay", "store"})


def check_circuit(circuit: QuantumCircuit, limits: Limits) -> None:
    if circuit.num_qubits > limits.max_qubits:
        raise CircuitLimitError(over_limit("qubits", circuit.num_qubits, limits.max_qubits))
    if circuit.num_clbits > limits.max_clbits:
        raise CircuitLimitError(over_limit("clbits", circuit.num_clbits, limits.max_clbits))
    if count_operations(circuit, limits.max_gates) > limits.max_gates:
        raise CircuitLimitError(too_many_gates(limits))


def count_operations(circuit: QuantumCircuit, limit: int) -> int:
    """Operations once custom gate definitions and loops are expanded; stops at `limit + 1`.

    Gates are memoised by name and width: a definition is walked once however often it is
    called (OpenQASM 2 builds a definition per call site on demand, so walking each would be
    exponential). Standard-library gates count as one."""
    cap = limit + 1
    memo: dict[tuple[str, str, int, int], int] = {}

    def circuit_cost(body: QuantumCircuit) -> int:
        total = 0
        for instruction in body.data:
            total += operation_cost(instruction.operation)
            if total >= cap:
                return cap
        return total

    def operation_cost(operation: Instruction) -> int:
        if isinstance(operation, ControlFlowOp):
            bodies = [circuit_cost(block) for block in operation.blocks]
            body = max(bodies, default=0)
            if isinstance(operation, ForLoopOp):
                return min(cap, body * _iterations(operation.params[0]))
            if isinstance(operation, WhileLoopOp):
                return body
            return body
        if operation.name in _LEAVES or getattr(operation, "_standard_gate", None) is not None:
            return 1
        key = (
            type(operation).__qualname__,
            operation.name,
            operation.num_qubits,
            operation.num_clbits,
        )
        if key in memo:
            return memo[key]
        memo[key] = cap  # a definition that calls itself is refused, not walked forever
        try:
            definition = operation.definition
        except Exception:  # opaque gates, gates whose definition needs bound parameters
            definition = None
        cost = 1 if definition is None else max(1, circuit_cost(definition))
        memo[key] = cost
        return cost

    return circuit_cost(circuit)


def _iterations(indexset: Any) -> int:
    try:
        return max(1, len(indexset))
    except OverflowError:  # range(0, 10**30)
        return 2**62
    except TypeError:
        return 1
