"""Reading OpenQASM 2/3 into circuits: what parses, how errors read, and the stored metrics."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit, qasm2, qasm3, transpile
from qiskit.circuit import Parameter
from qiskit.circuit.library import QFTGate
from qiskit.quantum_info import Operator, Statevector
from qiskit.transpiler import CouplingMap

from qorch.adapters.qasm import (
    CircuitMetrics,
    QasmError,
    circuit_metrics,
    content_hash,
    detect_format,
    parse_circuit,
)

pytestmark = pytest.mark.filterwarnings("ignore::qiskit.exceptions.ExperimentalWarning")

QASM3_HEADER = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


def _without_measurements(circuit: QuantumCircuit) -> QuantumCircuit:
    unitary = circuit.copy_empty_like()
    for instruction in circuit.data:
        if instruction.operation.name not in ("measure", "barrier"):
            unitary.append(instruction)
    return unitary


def _instructions(circuit: QuantumCircuit) -> list[tuple[Any, ...]]:
    return [
        (
            instruction.operation.name,
            tuple(float(param) for param in instruction.operation.params),
            tuple(circuit.find_bit(qubit).index for qubit in instruction.qubits),
            tuple(circuit.find_bit(clbit).index for clbit in instruction.clbits),
        )
        for instruction in circuit.data
    ]


def _outcome_probabilities(circuit: QuantumCircuit) -> np.ndarray:
    """Exact distribution over the clbits of a circuit whose qubits are measured last."""
    unitary = QuantumCircuit(circuit.num_qubits)
    measured: dict[int, int] = {}
    for instruction in circuit.data:
        qubits = [circuit.find_bit(qubit).index for qubit in instruction.qubits]
        if instruction.operation.name == "measure":
            measured[circuit.find_bit(instruction.clbits[0]).index] = qubits[0]
        elif instruction.operation.name != "barrier":
            assert not set(qubits) & set(measured.values()), "gate after measurement"
            unitary.append(instruction.operation, qubits)
    return Statevector(unitary).probabilities([measured[clbit] for clbit in sorted(measured)])


def _sample_circuit() -> QuantumCircuit:
    qc = QuantumCircuit(3, 3)
    qc.h(0)
    qc.cx(0, 1)
    qc.rz(0.3, 2)
    qc.cp(0.25, 1, 2)
    qc.sx(1)
    qc.swap(0, 2)
    qc.ry(-1.5e-3, 0)
    qc.ccx(0, 1, 2)
    qc.barrier()
    qc.measure([0, 1, 2], [2, 0, 1])
    return qc


# --- which language ---------------------------------------------------------------------------


def test_format_comes_from_the_version_header_after_comments() -> None:
    commented = '// made by hand\n/* two\n lines */\nOPENQASM 2.0;\ninclude "qelib1.inc";'
    assert detect_format(commented) == "qasm2"
    assert detect_format("\n\nOPENQASM 3.0;\nqubit q;") == "qasm3"
    assert detect_format("OPENQASM 3;\nqubit q;") == "qasm3"


def test_source_without_a_version_header_is_refused() -> None:
    with pytest.raises(QasmError, match="missing 'OPENQASM 2.0;' or 'OPENQASM 3.0;' header"):
        parse_circuit("qreg q[1];\nh q[0];\n")


def test_unknown_openqasm_version_is_refused_at_its_line() -> None:
    with pytest.raises(QasmError, match="unsupported OpenQASM version '4.0'") as caught:
        parse_circuit("// header below\nOPENQASM 4.0;\n")
    assert (caught.value.line, caught.value.column) == (2, 1)


# --- OpenQASM 2 -------------------------------------------------------------------------------


def test_qiskit_written_qasm2_of_decomposed_qft_parses_to_the_same_unitary() -> None:
    qft = QuantumCircuit(3)
    qft.append(QFTGate(3), range(3))
    qft = qft.decompose()

    parsed = parse_circuit(qasm2.dumps(qft))

    assert parsed.format == "qasm2"
    assert Operator(parsed.circuit).equiv(Operator(qft))


def test_qiskit_written_qasm2_with_cp_p_u_swap_rzz_sx_rxx_parses() -> None:
    qc = QuantumCircuit(3)
    qc.cp(0.3, 0, 1)
    qc.p(0.4, 2)
    qc.u(0.1, 0.2, 0.3, 1)
    qc.swap(0, 2)
    qc.rzz(0.5, 0, 1)
    qc.sx(2)
    qc.rxx(0.2, 1, 2)
    qc.id(0)
    source = qasm2.dumps(qc)
    with pytest.raises(qasm2.QASM2ParseError):
        qasm2.loads(source)  # the strict qelib1.inc does not know these gates

    parsed = parse_circuit(source)

    assert Operator(parsed.circuit).equiv(Operator(qc))
    assert parsed.metrics.gates_2q == 4


def test_qiskit_written_qasm2_ghz_keeps_its_measurements() -> None:
    ghz = QuantumCircuit(3)
    ghz.h(0)
    ghz.cx(0, 1)
    ghz.cx(1, 2)
    ghz.measure_all()

    parsed = parse_circuit(qasm2.dumps(ghz))

    assert parsed.has_measurements
    assert parsed.metrics.other_ops == {"barrier": 1, "measure": 3}
    assert parsed.metrics.clbits == 3
    assert Statevector(_without_measurements(parsed.circuit)).equiv(
        Statevector(_without_measurements(ghz))
    )


def test_qasm2_typo_on_line_4_names_line_and_gate() -> None:
    source = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nhx q[0];\n'

    with pytest.raises(QasmError) as caught:
        parse_circuit(source)

    assert (caught.value.line, caught.value.column) == (4, 1)
    assert "'hx' is not defined" in caught.value.detail
    assert str(caught.value) == f"line 4, column 1: {caught.value.detail}"
    assert isinstance(caught.value, ValueError)


def test_qasm2_index_too_big_for_the_rust_parser_is_an_error_not_a_crash() -> None:
    # qasm2.loads panics (pyo3 PanicException, a BaseException) on integer overflow.
    source = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[199999999999999999999];\n'

    with pytest.raises(QasmError, match="Overflow"):
        parse_circuit(source)


def test_qasm2_include_cannot_read_files_on_the_server(tmp_path: Path) -> None:
    secret = tmp_path / "secret.inc"
    secret.write_text("s3cr3t_token;\n")

    with pytest.raises(QasmError) as caught:
        parse_circuit(f'OPENQASM 2.0;\ninclude "{secret}";\nqreg q[1];\n')

    assert caught.value.line == 2
    assert "s3cr3t_token" not in str(caught.value)


# --- OpenQASM 3: the fast path and when it is avoided -----------------------------------------


def test_qiskit_written_qasm3_takes_the_fast_path_and_matches_the_slow_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    qc = _sample_circuit()
    source = qasm3.dumps(qc)
    slow = qasm3.loads(source)

    def no_slow_path(*args: object, **kwargs: object) -> QuantumCircuit:
        raise AssertionError("slow path used")

    monkeypatch.setattr(qasm3, "loads", no_slow_path)
    parsed = parse_circuit(source)

    assert parsed.format == "qasm3"
    assert _instructions(parsed.circuit) == _instructions(slow)
    assert [(reg.name, reg.size) for reg in parsed.circuit.cregs] == [("c", 3)]
    assert np.allclose(_outcome_probabilities(parsed.circuit), _outcome_probabilities(qc))


@pytest.mark.parametrize(
    ("body", "expected_ops"),
    [
        ("qubit[1] q;\nU(0.1, 0.2, 0.3) q[0];\n", {"u": 1}),
        ("gate g a, b { h a; cx a, b; }\nqubit[2] q;\ng q[0], q[1];\n", {"g": 1}),
        ("qubit[1] q;\nreset q[0];\nrz(pi/2) q[0];\n", {"reset": 1, "rz": 1}),
        ("qubit[2] q;\nbit[1] c;\nc[0] = measure q[0];\nif (c[0]) { x q[1]; }\n", {"measure": 1}),
        ("qubit[2] q;\nctrl @ h q[0], q[1];\ninv @ s q[0];\n", {"ch": 1}),
        ("qubit[2] q;\ndelay[100ns] q[0];\nbarrier;\n", {"delay": 1, "barrier": 1}),
        ("qubit[3] q;\nh q[{0, 2}];\nx q[1:2];\n", {"h": 2, "x": 2}),
    ],
    ids=["U", "custom-gate", "reset-and-pi", "if", "modifiers", "delay-bare-barrier", "indexing"],
)
def test_constructs_the_fast_path_lacks_are_parsed_by_the_slow_path(
    body: str, expected_ops: dict[str, int]
) -> None:
    counts = parse_circuit(QASM3_HEADER + body).circuit.count_ops()

    assert {name: counts[name] for name in expected_ops} == expected_ops


def test_openqasm_3_header_without_minor_version_parses() -> None:
    parsed = parse_circuit('OPENQASM 3;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\n')

    assert parsed.circuit.count_ops() == {"h": 1}


def test_negative_index_addresses_the_last_qubit() -> None:
    # The native importer reads q[-1] of a 4-qubit register as q[1].
    circuit = parse_circuit(QASM3_HEADER + "qubit[4] q;\nh q[-1];\n").circuit

    assert _instructions(circuit) == [("h", (), (3,), ())]


def test_huge_index_is_an_error_not_a_wrapped_around_qubit() -> None:
    with pytest.raises(QasmError):
        parse_circuit(QASM3_HEADER + "qubit[2] q;\nh q[18446744073709551617];\n")


def test_gate_on_a_repeated_qubit_is_an_error() -> None:
    with pytest.raises(QasmError, match="duplicate"):
        parse_circuit(QASM3_HEADER + "qubit[3] q;\nccx q[0], q[1], q[0];\n")


def test_qasm3_include_cannot_read_files_on_the_server(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "secret.inc"
    secret.write_text("s3cr3t_token;\n")

    with pytest.raises(QasmError) as caught:
        parse_circuit(f'{QASM3_HEADER}include "{secret}";\nqubit[1] q;\nh q[0];\n')

    output = capfd.readouterr()
    assert caught.value.line == 3
    assert "s3cr3t_token" not in str(caught.value) + output.out + output.err


def test_rust_panic_in_the_fast_path_falls_back_to_the_slow_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        qasm3.loads_experimental(QASM3_HEADER + "qubit[1] q;\nrx(sin(0.3)) q[0];\n")
    except BaseException as exc:  # noqa: BLE001 - we want the real pyo3 PanicException
        panic = exc
    assert type(panic).__name__ == "PanicException"
    assert not isinstance(panic, Exception)

    def panicking(*args: object, **kwargs: object) -> QuantumCircuit:
        raise panic

    monkeypatch.setattr(qasm3, "loads_experimental", panicking)
    parsed = parse_circuit(QASM3_HEADER + "qubit[2] q;\nh q[0];\ncx q[0], q[1];\n")

    assert parsed.circuit.count_ops() == {"h": 1, "cx": 1}


def test_ctrl_c_during_the_fast_path_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> QuantumCircuit:
        raise KeyboardInterrupt

    monkeypatch.setattr(qasm3, "loads_experimental", interrupted)
    with pytest.raises(KeyboardInterrupt):
        parse_circuit(QASM3_HEADER + "qubit[1] q;\nh q[0];\n")


# --- OpenQASM 3 features ----------------------------------------------------------------------


def test_input_declarations_become_parameters_in_qiskit_order() -> None:
    source = QASM3_HEADER + (
        "input float[64] theta;\ninput float[64] alpha;\nqubit[1] q;\n"
        "rx(theta) q[0];\nrz(alpha) q[0];\n"
    )

    parsed = parse_circuit(source)

    assert parsed.parameters == ("alpha", "theta")
    assert parsed.parameters == tuple(p.name for p in parsed.circuit.parameters)


def test_qiskit_written_parameterised_circuit_binds_to_the_original_unitary() -> None:
    theta = Parameter("theta")
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.crx(theta, 0, 1)

    parsed = parse_circuit(qasm3.dumps(qc))
    (parameter,) = parsed.circuit.parameters

    assert parsed.parameters == ("theta",)
    bound = parsed.circuit.assign_parameters({parameter: 0.7})
    assert Operator(bound).equiv(Operator(qc.assign_parameters({theta: 0.7})))


def test_physical_qubits_count_up_to_the_highest_index() -> None:
    parsed = parse_circuit(QASM3_HEADER + "h $0;\ncx $0, $3;\n")

    assert parsed.metrics.qubits == 4
    assert _instructions(parsed.circuit) == [("h", (), (0,), ()), ("cx", (), (0, 3), ())]


def test_qiskit_written_transpiled_circuit_keeps_its_outcome_distribution() -> None:
    qc = QuantumCircuit(4, 4)
    qc.h(0)
    qc.cx(0, 3)  # not neighbours on the line: routing has to move qubits
    qc.ry(0.4, 2)
    qc.cx(2, 0)
    qc.rz(0.9, 1)
    qc.h(1)
    qc.cx(3, 1)
    qc.measure(range(4), range(4))
    transpiled = transpile(
        qc,
        basis_gates=["rz", "sx", "x", "cx"],
        coupling_map=CouplingMap.from_line(4),
        seed_transpiler=1,
    )
    source = qasm3.dumps(transpiled)

    parsed = parse_circuit(source)

    assert parsed.metrics.qubits == max(int(n) for n in re.findall(r"\$(\d+)", source)) + 1
    assert np.allclose(_outcome_probabilities(parsed.circuit), _outcome_probabilities(qc))


def test_measurement_inside_an_if_block_counts_as_measuring() -> None:
    source = QASM3_HEADER + (
        "qubit[2] q;\nbit[2] c;\nh q[0];\nc[0] = measure q[0];\n"
        "if (c[0]) { c[1] = measure q[1]; }\n"
    )

    parsed = parse_circuit(source)

    assert parsed.has_measurements
    assert parsed.metrics.other_ops == {"if_else": 1, "measure": 1}


def test_circuit_without_measurements_says_so() -> None:
    assert not parse_circuit(QASM3_HEADER + "qubit[1] q;\nh q[0];\n").has_measurements


def test_byte_order_mark_is_tolerated() -> None:
    assert parse_circuit("\ufeff" + QASM3_HEADER + "qubit[1] q;\nx q[0];\n").format == "qasm3"


# --- OpenQASM 3 errors ------------------------------------------------------------------------


def test_qasm3_typo_on_line_4_names_line_and_gate() -> None:
    with pytest.raises(QasmError) as caught:
        parse_circuit(QASM3_HEADER + "qubit[2] q;\nhx q[0];\n")

    assert (caught.value.line, caught.value.column) == (4, 1)
    assert "gate 'hx' is not defined" in str(caught.value)


def test_qasm3_missing_semicolon_points_at_the_next_token() -> None:
    with pytest.raises(QasmError) as caught:
        parse_circuit(QASM3_HEADER + "qubit[2] q;\nh q[0]\ncx q[0], q[1];\n")

    assert (caught.value.line, caught.value.column) == (5, 1)
    assert caught.value.detail == "unexpected 'cx', expecting ';'"


def test_qasm3_undefined_register_points_at_its_name() -> None:
    with pytest.raises(QasmError) as caught:
        parse_circuit(QASM3_HEADER + "qubit[2] q;\ncx q[0], r[1];\n")

    assert (caught.value.line, caught.value.column) == (4, 10)
    assert "Undefined symbol 'r'" in caught.value.detail


def test_qasm3_bad_character_is_reported_at_its_position() -> None:
    with pytest.raises(QasmError) as caught:
        parse_circuit(QASM3_HEADER + "qubit[2] q;\nh q[0]; `\n")

    assert (caught.value.line, caught.value.column) == (4, 9)


# --- metrics and hashing ----------------------------------------------------------------------


def test_metrics_agree_with_qiskit_counts_and_depth() -> None:
    qc = QuantumCircuit(3, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.ccx(0, 1, 2)
    qc.barrier()
    qc.x(2)
    qc.reset(1)
    qc.delay(100, 0)
    qc.cz(1, 2)
    qc.measure([0, 1], [0, 1])

    metrics = circuit_metrics(qc)

    counts = qc.count_ops()
    assert metrics == CircuitMetrics(
        qubits=3,
        clbits=2,
        depth=qc.depth(),
        depth_2q=qc.depth(lambda inst: inst.operation.num_qubits >= 2 and inst.name != "barrier"),
        gates_1q=counts["h"] + counts["x"],
        gates_2q=counts["cx"] + counts["ccx"] + counts["cz"],
        gates_total=5,
        other_ops={"barrier": 1, "delay": 1, "measure": 2, "reset": 1},
    )
    assert (metrics.depth, metrics.depth_2q, metrics.gates_1q, metrics.gates_2q) == (6, 3, 2, 3)


def test_metrics_as_dict_is_json_ready() -> None:
    metrics = parse_circuit(QASM3_HEADER + "qubit[2] q;\nbit[2] c;\nh q[0];\nc = measure q;\n")

    assert json.loads(json.dumps(metrics.metrics.as_dict())) == {
        "qubits": 2,
        "clbits": 2,
        "depth": 2,
        "depth_2q": 0,
        "gates_1q": 1,
        "gates_2q": 0,
        "gates_total": 1,
        "other_ops": {"measure": 2},
    }


def test_content_hash_ignores_line_endings_trailing_spaces_and_outer_blank_lines() -> None:
    source = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nh q[0];'
    messy = "\r\n\n" + source.replace("\n", "  \r\n").replace(";", "; \t", 1) + "\r\n\r\n"

    assert content_hash(messy) == content_hash(source)
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash(source))
    assert content_hash(source.replace("h q", "x q")) != content_hash(source)
    assert content_hash("  " + source) != content_hash(source)


_VALID_SOURCES = [
    qasm3.dumps(_sample_circuit()),
    qasm2.dumps(_sample_circuit()),
    QASM3_HEADER + "input float[64] t;\nqubit[2] q;\nbit[2] c;\nrx(t) q[0];\nc = measure q;\n",
]
_DEBRIS = [*'q[](){};,$-=0123456789 \n/*@"', "measure", "gate", "U", "pi", "-1", "9" * 21]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.sampled_from(_VALID_SOURCES),
    st.lists(st.tuples(st.floats(0, 1), st.sampled_from(["", *_DEBRIS])), min_size=1, max_size=4),
)
def test_mangled_source_parses_or_raises_qasm_error_only(
    source: str, edits: list[tuple[float, str]]
) -> None:
    for where, debris in edits:
        at = int(where * len(source))
        source = source[:at] + debris + source[at + 1 :]

    with contextlib.suppress(QasmError):
        parse_circuit(source)


def test_absurd_register_sizes_are_refused_before_parsing():
    for source in (
        "OPENQASM 3.0;\nqubit[999999999] q;\n",
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nqreg big[100000];\n',
        "OPENQASM 3.0;\nh $5000;\n",
    ):
        with pytest.raises(QasmError, match="exceeds the limit") as error:
            parse_circuit(source)
        assert error.value.line in (2, 4)
