"""OpenQASM 2.0 / 3.0 text to Qiskit circuits, plus the metrics qorch stores with them."""

from __future__ import annotations

import hashlib
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.circuit import ControlFlowOp, Gate
from qiskit.exceptions import ExperimentalWarning

from qorch.adapters.circuit_limits import CircuitLimitError, check_circuit, check_source_sizes
from qorch.adapters.providers.pipeline.dynamic import mid_circuit_measurements, ops_in_control_flow
from qorch.adapters.providers.pipeline.gate_names import (
    load_qasm2_as_defined,
    rename_in_program,
    rename_reserved,
)
from qorch.adapters.qasm3_budget import check_qasm3_program
from qorch.domain.circuit import CONTROL_FLOW
from qorch.domain.requests import Limits

QasmFormat = Literal["qasm2", "qasm3"]

# Set once here rather than with catch_warnings() per call, which is not thread-safe.
warnings.filterwarnings(
    "ignore",
    message="This is an experimental native version of the OpenQASM 3 importer",
    category=ExperimentalWarning,
)


@dataclass(frozen=True)
class CircuitMetrics:
    qubits: int
    clbits: int
    depth: int
    depth_2q: int
    gates_1q: int
    gates_2q: int
    gates_total: int
    other_ops: dict[str, int]
    mid_circuit_measurements: int = 0
    ops_in_control_flow: dict[str, int] = field(default_factory=dict)
    """What makes a circuit dynamic besides its top-level operations (domain/dynamic.py)."""

    def as_dict(self) -> dict[str, object]:
        # Absent when zero, as in circuits stored before they were measured.
        return {key: value for key, value in asdict(self).items() if value or key in _ALWAYS}


_ALWAYS = frozenset(
    {"qubits", "clbits", "depth", "depth_2q", "gates_1q", "gates_2q", "gates_total", "other_ops"}
)


@dataclass(frozen=True)
class ParsedCircuit:
    circuit: QuantumCircuit
    format: QasmFormat
    parameters: tuple[str, ...]
    has_measurements: bool
    metrics: CircuitMetrics


class QasmError(ValueError):
    """Unparseable source; `line` and `column` are 1-based when the parser reported them."""

    def __init__(self, detail: str, line: int | None = None, column: int | None = None) -> None:
        if line is None:
            where = ""
        elif column is None:
            where = f"line {line}: "
        else:
            where = f"line {line}, column {column}: "
        super().__init__(where + detail)
        self.detail = detail
        self.line = line
        self.column = column


class CircuitTooLarge(QasmError):
    """Well-formed, but over one of this server's size limits."""


_PREAMBLE = re.compile(r"(?:\s|//[^\n]*|/\*.*?\*/)*", re.DOTALL)
_VERSION = re.compile(r"OPENQASM\s+((\d+)(?:\.\d+)?)")


def detect_format(source: str) -> QasmFormat:
    source = source.removeprefix("\ufeff")
    preamble = _PREAMBLE.match(source)
    start = preamble.end() if preamble else 0
    version = _VERSION.match(source, start)
    if version is None:
        raise QasmError("missing 'OPENQASM 2.0;' or 'OPENQASM 3.0;' header")
    if version[2] == "2":
        return "qasm2"
    if version[2] == "3":
        return "qasm3"
    line = source.count("\n", 0, start) + 1
    column = start - source.rfind("\n", 0, start)
    raise QasmError(f"unsupported OpenQASM version {version[1]!r}", line, column)


_DEFAULT_LIMITS = Limits()


def parse_circuit(source: str, limits: Limits | None = _DEFAULT_LIMITS) -> ParsedCircuit:
    """Parses and measures a circuit, refusing one over `limits` (qubits, clbits, operations
    after expanding gate definitions and loops) before it can grow large. `limits=None` skips
    the size checks: for circuits already checked when they were stored."""
    # Both parsers reject a byte-order mark; editors on Windows like to add one.
    source = source.removeprefix("\ufeff")
    fmt = detect_format(source)
    try:
        if limits is not None:
            check_source_sizes(source, limits)
        circuit = _load_qasm2(source, limits) if fmt == "qasm2" else _load_qasm3(source, limits)
        if limits is not None:
            check_circuit(circuit, limits)
    except CircuitLimitError as error:
        raise CircuitTooLarge(error.detail, error.line) from None
    return ParsedCircuit(
        circuit=circuit,
        format=fmt,
        parameters=tuple(parameter.name for parameter in circuit.parameters),
        has_measurements=_has_measurements(circuit),
        metrics=circuit_metrics(circuit),
    )


def check_declared_sizes(source: str, limits: Limits = _DEFAULT_LIMITS) -> None:
    """Refuses absurd literal register sizes before a parser allocates them."""
    try:
        check_source_sizes(source, limits)
    except CircuitLimitError as error:
        raise CircuitTooLarge(error.detail, error.line) from None


def circuit_metrics(circuit: QuantumCircuit) -> CircuitMetrics:
    gates_1q = gates_2q = 0
    other_ops = Counter[str]()
    for instruction in circuit.data:
        operation = instruction.operation
        if not isinstance(operation, Gate) or operation.num_qubits == 0:
            other_ops[operation.name] += 1
        elif operation.num_qubits == 1:
            gates_1q += 1
        else:
            gates_2q += 1
    return CircuitMetrics(
        qubits=circuit.num_qubits,
        clbits=circuit.num_clbits,
        depth=circuit.depth(),
        depth_2q=circuit.depth(_is_multi_qubit_gate),
        gates_1q=gates_1q,
        gates_2q=gates_2q,
        gates_total=gates_1q + gates_2q,
        other_ops=dict(sorted(other_ops.items())),
        mid_circuit_measurements=mid_circuit_measurements(circuit, other_ops["measure"]),
        ops_in_control_flow=ops_in_control_flow(circuit) if CONTROL_FLOW & other_ops.keys() else {},
    )


def content_hash(source: str) -> str:
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    normalised = "\n".join(line.rstrip() for line in lines).strip("\n")
    return hashlib.sha256(normalised.encode()).hexdigest()


def _is_multi_qubit_gate(instruction: Any) -> bool:
    return isinstance(instruction.operation, Gate) and instruction.operation.num_qubits >= 2


def _has_measurements(circuit: QuantumCircuit) -> bool:
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name == "measure":
            return True
        if isinstance(operation, ControlFlowOp) and any(map(_has_measurements, operation.blocks)):
            return True
    return False


_QASM2_POSITION = re.compile(r"<input>:(\d+),(\d+): (.*)", re.DOTALL)


def _load_qasm2(source: str, limits: Limits | None) -> QuantumCircuit:
    def check(circuit: QuantumCircuit) -> None:
        if limits is not None:
            check_circuit(circuit, limits)

    return load_qasm2_as_defined(source, _qasm2_loads, check)


def _qasm2_loads(source: str, custom_instructions: Iterable[Any]) -> QuantumCircuit:
    try:
        # The legacy instruction set is what qasm2.dumps writes (cp, p, u, swap, rzz, sx, ...);
        # an empty include path keeps `include` from reading files off this machine.
        return qasm2.loads(
            source,
            include_path=(),
            custom_instructions=custom_instructions,
            custom_classical=qasm2.LEGACY_CUSTOM_CLASSICAL,
        )
    except BaseException as exc:
        if not _is_parser_failure(exc):
            raise
        message = _message(exc)
        position = _QASM2_POSITION.match(message)
        if position is None:
            raise QasmError(message) from exc
        line, column, detail = int(position[1]), int(position[2]), position[3]
        raise QasmError(detail, line, column + 1) from exc


# The native importer is some 30x faster than qiskit-qasm3-import but covers only a subset of
# the language; it wraps negative or huge indices around silently and reads any `include`d file
# off this machine. So it only sees programs made of the statements below (what qasm3.dumps
# writes for plain circuits); everything else goes the slow way.
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_INDEX = r"\s*\[\s*[0-9]{1,9}\s*\]"
_OPERAND = rf"{_IDENT}(?:{_INDEX})?"
_OPERANDS = rf"{_OPERAND}(?:\s*,\s*{_OPERAND})*"
_FLOAT = r"-?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+)"
_STDGATES = (
    "p|x|y|z|h|s|sdg|t|tdg|sx|rx|ry|rz|cx|cy|cz|cp|crx|cry|crz|ch|swap|ccx|cswap|cu"
    "|CX|phase|cphase|id|u1|u2|u3"
)
_FAST_HEADER = re.compile(r"OPENQASM\s+3\.[0-9]+")
_FAST_STATEMENT = re.compile(
    rf'include\s*"stdgates\.inc"'
    rf"|(?:qubit|bit){_INDEX}\s*{_IDENT}"
    rf"|(?:{_STDGATES})(?:\s*\(\s*{_FLOAT}(?:\s*,\s*{_FLOAT})*\s*\)\s*|\s+){_OPERANDS}"
    rf"|barrier\s+{_OPERANDS}"
    rf"|{_OPERAND}\s*=\s*measure\s+{_OPERAND}"
)
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


def _load_qasm3(source: str, limits: Limits | None) -> QuantumCircuit:
    if _fits_fast_path(source):
        circuit = _load_qasm3_fast(source)
        # The native importer accepts `cx q[0], q[0]`; leave the rejection to the slow path.
        if circuit is not None and all(
            len(set(instruction.qubits)) == len(instruction.qubits) for instruction in circuit.data
        ):
            return circuit
    try:
        return _load_qasm3_checked(source, limits)
    except CircuitLimitError:
        raise
    except BaseException as exc:  # qiskit-qasm3-import also raises TypeError, IndexError, ...
        if not _is_parser_failure(exc):
            raise
        raise _qasm3_error(exc, source) from exc


def _load_qasm3_checked(source: str, limits: Limits | None) -> QuantumCircuit:
    """`qasm3.loads`, with the syntax tree checked between parsing and conversion: the
    converter copies each gate definition into each call, so its cost is the expanded size."""
    import openqasm3
    import qiskit_qasm3_import
    from qiskit.qasm3 import QASM3ImporterError

    program = openqasm3.parse(source)
    if limits is not None:
        check_qasm3_program(program, limits)
    renamed = rename_in_program(program)
    try:
        return rename_reserved(qiskit_qasm3_import.convert(program), renamed)
    except qiskit_qasm3_import.ConversionError as exc:
        raise QASM3ImporterError(str(exc)) from exc


def _fits_fast_path(source: str) -> bool:
    *statements, tail = _COMMENT.sub(" ", source).split(";")
    if tail.strip() or not statements or not _FAST_HEADER.fullmatch(statements[0].strip()):
        return False
    return all(_FAST_STATEMENT.fullmatch(statement.strip()) for statement in statements[1:])


def _load_qasm3_fast(source: str) -> QuantumCircuit | None:
    try:
        return qasm3.loads_experimental(source)
    except BaseException as exc:
        if not _is_parser_failure(exc):
            raise
        return None


def _is_parser_failure(exc: BaseException) -> bool:
    # Qiskit's Rust parsers panic on some input, and pyo3's PanicException is a BaseException.
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


_CONVERTER_POSITION = re.compile(r"(\d+),(\d+): (.*)", re.DOTALL)
_ANTLR_POSITION = re.compile(r"L(\d+):C(\d+): (.*)", re.DOTALL)


def _qasm3_error(exc: BaseException, source: str) -> QasmError:
    message = _message(exc)
    position = _CONVERTER_POSITION.match(message) or _ANTLR_POSITION.match(message)
    if position is not None:
        line, column, detail = int(position[1]), int(position[2]), position[3]
        return QasmError(detail, line, _one_based_column(source, line, column))
    # openqasm3 raises a bare QASM3ParsingError for syntax errors; the ANTLR cause has the token.
    recognition = exc.__cause__.args[0] if exc.__cause__ and exc.__cause__.args else None
    token = getattr(recognition, "offendingToken", None)
    if token is None:
        return QasmError(message)
    detail = "unexpected end of input" if token.type == -1 else f"unexpected {token.text!r}"
    expected = _expected_tokens(recognition)
    if expected and not expected.startswith("{"):
        detail += f", expecting {expected}"
    return QasmError(detail, token.line, token.column + 1)


def _message(exc: BaseException) -> str:
    # QiskitError's str() is the repr of its message, quotes included.
    return str(getattr(exc, "message", None) or exc) or type(exc).__name__


def _expected_tokens(recognition: Any) -> str:
    try:
        recognizer = recognition.recognizer
        expected = recognition.getExpectedTokens()
        return str(expected.toString(recognizer.literalNames, recognizer.symbolicNames))
    except Exception:
        return ""


def _one_based_column(source: str, line: int, column: int) -> int | None:
    lines = source.split("\n")
    if not 1 <= line <= len(lines):
        return None
    text = lines[line - 1]
    if column > len(text):
        # openqasm3 gives identifier spans as offsets into the whole program, not the line.
        column -= sum(len(earlier) + 1 for earlier in lines[: line - 1])
    return column + 1 if 0 <= column <= len(text) else None
