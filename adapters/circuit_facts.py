"""Turns circuit source text into the facts the domain validates against (via Qiskit)."""

from __future__ import annotations

from functools import lru_cache

from qorch.adapters.qasm import QasmError, content_hash, parse_circuit
from qorch.domain.circuit import CircuitFacts
from qorch.domain.errors import InvalidCircuit


@lru_cache(maxsize=256)
def describe_circuit(source: str) -> CircuitFacts:
    """Parses once per distinct text: agents often resubmit a circuit with new parameters."""
    try:
        parsed = parse_circuit(source)
    except QasmError as error:
        raise InvalidCircuit(str(error), line=error.line, column=error.column) from error
    return CircuitFacts(
        source=source,
        format=parsed.format,
        content_hash=content_hash(source),
        qubits=parsed.circuit.num_qubits,
        parameters=parsed.parameters,
        has_measurements=parsed.has_measurements,
        metrics=parsed.metrics.as_dict(),
    )
