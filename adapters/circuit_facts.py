"""Turns circuit source text into the facts the domain validates against (via Qiskit).

The parse runs in a parser process (adapters/circuit_sandbox.py) with the configured size limits
(adapters/circuit_limits.py): a hostile circuit costs a parser process, never the API process.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from qorch.adapters import circuit_sandbox
from qorch.adapters.circuit_sandbox import PARSING_FOR, SandboxConfig, SandboxFailure
from qorch.domain.circuit import CircuitFacts
from qorch.domain.errors import InvalidCircuit
from qorch.domain.requests import Limits

CACHED_TEXTS = 256


def configure_parsing(limits: Limits, sandbox: SandboxConfig) -> None:
    """The limits and parser pool every later `describe_circuit` uses (bootstrap.py)."""
    if circuit_sandbox.configure(limits, sandbox):
        with _lock:
            _described.clear()


def parsing_for(user_id: object) -> None:
    """Marks the circuits parsed from here on (in this task and the threads it starts) as this
    user's: the parser pool serves each user one parse at a time."""
    PARSING_FOR.set(str(user_id))


def warm_parsers() -> None:
    circuit_sandbox.pool().warm()


Refusal = tuple[str, int | None, int | None]
_described: OrderedDict[bytes, CircuitFacts | Refusal] = OrderedDict()
"""The facts (without their source) or refusal of the last texts parsed, by the text's SHA-256:
a text may be megabytes, so the cache keeps none."""
_lock = threading.Lock()


def describe_circuit(source: str) -> CircuitFacts:
    """Parses once per distinct text: agents often resubmit a circuit with new parameters.
    Refusals by the checks are remembered too, so resending a bomb costs nothing; a parse stopped
    by the parser's time or memory bound is not (under load a good circuit may be slow once)."""
    key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()
    with _lock:
        outcome = _described.get(key)
        if outcome is not None:
            _described.move_to_end(key)
    if outcome is None:
        try:
            outcome = _describe(source)
        except SandboxFailure as failure:
            raise InvalidCircuit(str(failure)) from None
        with _lock:
            _described[key] = outcome
            while len(_described) > CACHED_TEXTS:
                _described.popitem(last=False)
    if isinstance(outcome, CircuitFacts):
        return replace(outcome, source=source)
    message, line, column = outcome
    raise InvalidCircuit(message, line=line, column=column)


def _describe(source: str) -> CircuitFacts | Refusal:
    answer = circuit_sandbox.call(describe_here, source, circuit_sandbox.limits())
    if answer[0] == "refused":
        return answer[1]  # type: ignore[no-any-return]
    fields: dict[str, Any] = answer[1]
    return CircuitFacts(source="", **fields)


def describe_here(source: str, limits: Limits) -> tuple[str, Any]:
    """In a parser process: the facts as plain data, or why the circuit is refused."""
    from qorch.adapters.qasm import QasmError, content_hash, parse_circuit

    try:
        parsed = parse_circuit(source, limits)
    except QasmError as error:
        return ("refused", (str(error), error.line, error.column))
    return (
        "ok",
        {
            "format": parsed.format,
            "content_hash": content_hash(source),
            "qubits": parsed.circuit.num_qubits,
            "parameters": parsed.parameters,
            "has_measurements": parsed.has_measurements,
            "metrics": parsed.metrics.as_dict(),
        },
    )
