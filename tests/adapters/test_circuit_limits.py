"""Size limits are checked on what the parser sees, not on how the text looks, and parsing runs
in parser processes with a time and memory bound (issue 11, findings 2 and 3)."""

from __future__ import annotations

import base64
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from qiskit import QuantumCircuit, qpy

from qorch.adapters import circuit_sandbox
from qorch.adapters.circuit_facts import describe_circuit, describe_here
from qorch.adapters.circuit_limits import count_operations
from qorch.adapters.circuit_sandbox import PARSING_FOR, ParserPool, SandboxConfig, SandboxFailure
from qorch.adapters.qasm import CircuitTooLarge, parse_circuit
from qorch.adapters.qpy import QpyError, qasm3_from_qpy
from qorch.domain.errors import Busy, InvalidCircuit
from qorch.domain.requests import Limits
from tests.conftest import BELL_QASM2, BELL_QASM3

QASM2 = 'OPENQASM 2.0; include "qelib1.inc"; '
QASM3 = 'OPENQASM 3.0; include "stdgates.inc"; '

# Finding 2: 10 million qubits on one line took 19-27 s and ~2 GB before its 422.
REGISTER_BOMB_QASM2 = QASM2 + "qreg q[10000000]; creg c[1]; measure q[0] -> c[0];"
REGISTER_BOMB_EXPRESSION = QASM3 + "qubit[10000*1000] q; bit[1] c; c[0] = measure q[0];"
REGISTER_BOMB_CONSTANT = (
    QASM3 + "const uint n = 100000000; qubit[n] q; bit[1] c; c[0] = measure q[0];"
)
CLBIT_BOMB = QASM3 + "qubit[1] q; bit[5000*5000] c; c[0] = measure q[0];"


def nested_gates(levels: int, qasm3: bool = False) -> str:
    """Finding 3: each gate calls the one before twice: 2^levels gates from a few hundred bytes."""
    gates = "gate g0 a {h a;} " + " ".join(
        f"gate g{i} a {{g{i - 1} a; g{i - 1} a;}}" for i in range(1, levels + 1)
    )
    if qasm3:
        return QASM3 + gates + f" qubit[1] q; bit[1] c; g{levels} q[0]; c[0] = measure q[0];"
    return QASM2 + gates + f" qreg q[1]; creg c[1]; g{levels} q[0]; measure q[0] -> c[0];"


HUGE_LOOP = QASM3 + "qubit[1] q; bit[1] c; for uint i in [0:1000000000] { h q[0]; } c = measure q;"
HUGE_POWER = QASM3 + "qubit[1] q; bit[1] c; rx(10**10**10) q[0]; c[0] = measure q[0];"

BOMBS = {
    "register bomb, QASM 2, one line": (REGISTER_BOMB_QASM2, "QORCH_MAX_QUBITS"),
    "register size as an expression": (REGISTER_BOMB_EXPRESSION, "QORCH_MAX_QUBITS"),
    "register size as a constant": (REGISTER_BOMB_CONSTANT, "QORCH_MAX_QUBITS"),
    "clbit register as an expression": (CLBIT_BOMB, "QORCH_MAX_CLBITS"),
    "18 nested gates, QASM 2": (nested_gates(18), "QORCH_MAX_GATES"),
    "18 nested gates, QASM 3": (nested_gates(18, qasm3=True), "QORCH_MAX_GATES"),
    "60 nested gates, QASM 2": (nested_gates(60), "QORCH_MAX_GATES"),
    "60 nested gates, QASM 3": (nested_gates(60, qasm3=True), "QORCH_MAX_GATES"),
    "a loop of 10^9 iterations": (HUGE_LOOP, "QORCH_MAX_GATES"),
    "10**10**10 in an angle": (HUGE_POWER, "exceeds 4096 bits"),
}


@pytest.mark.parametrize(("source", "limit"), BOMBS.values(), ids=BOMBS.keys())
def test_bomb_is_refused_in_well_under_a_second(source: str, limit: str) -> None:
    # CPU time of this thread, after the parsers are imported: a loaded CI machine stretches wall
    # time, but an expanded bomb costs seconds of CPU whatever the load.
    parse_circuit(BELL_QASM2)
    parse_circuit(BELL_QASM3)
    started = time.thread_time()
    with pytest.raises(CircuitTooLarge, match=limit):
        parse_circuit(source)
    assert time.thread_time() - started < 1.0


@pytest.mark.parametrize(("source", "limit"), BOMBS.values(), ids=BOMBS.keys())
def test_bomb_is_refused_through_the_parser_processes(source: str, limit: str) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidCircuit, match=limit):
        describe_circuit(source)
    assert time.monotonic() - started < 5.0


def test_operations_are_counted_after_expanding_definitions_and_loops() -> None:
    nested = parse_circuit(nested_gates(10)).circuit
    assert count_operations(nested, limit=10**6) == 2**10 + 1  # and the measurement
    nested3 = parse_circuit(nested_gates(10, qasm3=True)).circuit
    assert count_operations(nested3, limit=10**6) == 2**10 + 1
    loop = parse_circuit(
        QASM3
        + "qubit[2] q; bit[2] c; for uint i in [0:9] { h q[0]; cx q[0], q[1]; } c = measure q;"
    ).circuit
    assert count_operations(loop, limit=10**6) == 10 * 2 + 2
    # the count stops just past the limit, however large the circuit
    assert count_operations(parse_circuit(nested_gates(60), limits=None).circuit, 1000) == 1001


def test_each_limit_is_configurable() -> None:
    three_qubits = QASM2 + "qreg q[3]; creg c[3]; h q; measure q -> c;"
    with pytest.raises(CircuitTooLarge, match="4 qubits"):
        parse_circuit(QASM2 + "qreg a[2]; qreg b[2];", Limits(max_qubits=3))
    with pytest.raises(CircuitTooLarge, match="3 clbits"):
        parse_circuit(three_qubits, Limits(max_clbits=2))
    with pytest.raises(CircuitTooLarge, match="more than 5 operations"):
        parse_circuit(three_qubits, Limits(max_gates=5))  # 3 h + 3 measure
    assert parse_circuit(three_qubits, Limits(max_qubits=3, max_clbits=3, max_gates=6))
    # a larger limit lets the 18-level circuit through: the limit, not the shape, decides
    assert parse_circuit(nested_gates(18), Limits(max_gates=2**18 + 1)).metrics.gates_total == 1
    # stored circuits are read again without limits (they passed them when stored)
    assert parse_circuit(REGISTER_BOMB_QASM2.replace("10000000", "5000"), limits=None)


def test_declarations_inside_comments_do_not_count() -> None:
    source = QASM2 + "// qreg big[100000];\nqreg q[1]; creg c[1];"
    assert parse_circuit(source).metrics.qubits == 1
    source = QASM3 + "/* qubit[100000] big; */ qubit[1] q; // bit[99999] c;\nh q[0];"
    assert parse_circuit(source).metrics.qubits == 1


def test_small_circuits_still_parse_and_are_described() -> None:
    bell = QASM2 + "qreg q[2]; creg c[2]; h q[0]; cx q[0],q[1]; measure q -> c;"
    facts = describe_circuit(bell)
    assert (facts.qubits, facts.has_measurements, facts.metrics["gates_total"]) == (2, True, 2)
    assert describe_circuit(bell) == facts  # cached per text
    with pytest.raises(InvalidCircuit, match="line 1"):
        describe_circuit(QASM2 + "qreg q[2]; hx q[0];")


def test_a_parse_over_the_time_limit_is_killed_and_its_process_replaced() -> None:
    pool = ParserPool(SandboxConfig(workers=1, timeout=1.0))
    slow = QASM2 + "qreg q[4000];" + " h q;" * 30_000  # 120 M gates: minutes to build
    try:
        started = time.monotonic()
        with pytest.raises(SandboxFailure, match="QORCH_PARSE_TIMEOUT_SECONDS"):
            pool.call(describe_here, slow, Limits())
        assert time.monotonic() - started < 3.0
        status, facts = pool.call(describe_here, QASM2 + "qreg q[1]; h q[0];", Limits())
        assert (status, facts["qubits"]) == ("ok", 1)
    finally:
        pool.close()


def test_a_parse_over_the_memory_limit_fails_and_its_process_is_replaced() -> None:
    pool = ParserPool(SandboxConfig(workers=1, timeout=30.0, memory_mb=200))
    try:
        with pytest.raises(SandboxFailure, match="QORCH_PARSE_MEMORY_MB"):
            pool.call(bytearray, 1024**3)  # 1 GiB in a process allowed 200 MB more
        assert pool.call(len, "still serving") == len("still serving")
    finally:
        pool.close()


def test_one_user_with_slow_parses_holds_one_parser_and_others_are_served() -> None:
    """Two parser processes; Mallory sends many circuits at once that take seconds each. She
    holds one parser at a time with a few parses waiting, anything beyond is refused at once (so
    her flood ties up neither the parsers nor the API's threads): Bob is served at once."""
    pool = ParserPool(SandboxConfig(workers=2, timeout=10.0))
    waiting = circuit_sandbox.WAITING_PER_OWNER
    took: dict[str, float] = {}
    refused: list[Busy] = []

    def parse_as(user: str, seconds: float, name: str) -> None:
        PARSING_FOR.set(user)
        started = time.monotonic()
        try:
            pool.call(time.sleep, seconds)
        except Busy as busy:
            refused.append(busy)
        took[name] = time.monotonic() - started

    try:
        with ThreadPoolExecutor(2) as warm:  # both parser processes started before the flood
            list(warm.map(lambda _: pool.call(time.sleep, 0.3), range(2)))
        mallory = [
            threading.Thread(target=parse_as, args=("mallory", 0.5, f"mallory-{i}"))
            for i in range(waiting + 4)
        ]
        for thread in mallory:
            thread.start()
        time.sleep(0.2)
        parse_as("bob", 0.0, "bob")
        assert took["bob"] < 0.4, took  # without the per-user share: behind Mallory's parses
        for thread in mallory:
            thread.join()
        assert len(refused) == 3 and refused[0].retry_after > 0, took  # 1 running + waiting
        assert sorted(took.values())[-1] > 0.5 * (waiting + 1) - 0.2, took  # one at a time
    finally:
        pool.close()


def _qpy_b64(circuit: QuantumCircuit) -> str:
    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    return base64.b64encode(buffer.getvalue()).decode()


def test_qpy_uploads_are_converted_in_the_parser_processes_with_the_same_limits() -> None:
    wide = QuantumCircuit(5000)
    wide.h(0)
    with pytest.raises(QpyError, match="QORCH_MAX_QUBITS"):
        qasm3_from_qpy(_qpy_b64(wide))
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    assert "cx q[0], q[1];" in qasm3_from_qpy(_qpy_b64(bell))
    with pytest.raises(QpyError, match="not base64"):
        qasm3_from_qpy("not base64!")


def test_qasm3_slices_and_broadcasts_count_every_qubit() -> None:
    limits = Limits(max_gates=1000)
    with pytest.raises(CircuitTooLarge, match="QORCH_MAX_GATES"):
        parse_circuit(QASM3 + "qubit[100] q;" + " h q[0:99];" * 11, limits)
    with pytest.raises(CircuitTooLarge, match="QORCH_MAX_GATES"):
        parse_circuit(QASM3 + "qubit[100] q;" + " h q;" * 11, limits)
    # a gate's own qubit argument is not the register of the same name
    source = QASM3 + "qubit[100] q; gate g q { h q; x q; } g q[0]; g q[1];"
    assert parse_circuit(source, Limits(max_gates=4)).metrics.qubits == 100


# Review of issue 11: what qiskit-qasm3-import builds that the syntax-tree budget did not count.


def nested_definitions(levels: int, name: str = "g") -> str:
    """`levels` binary-nested gate definitions (2^levels operations for the last), no call."""
    return f"gate {name}0 a {{h a;}} " + " ".join(
        f"gate {name}{i} a {{{name}{i - 1} a; {name}{i - 1} a;}}" for i in range(1, levels + 1)
    )


def _refused_fast(source: str, limits: Limits, match: str = "QORCH_MAX_GATES") -> None:
    started = time.monotonic()
    with pytest.raises(CircuitTooLarge, match=match):
        parse_circuit(source, limits)
    assert time.monotonic() - started < 2.0


def test_qasm3_gate_definitions_count_when_defined_even_if_never_called() -> None:
    """The converter builds each definition where it is defined, copying every gate it calls:
    17 nested levels, never called, took 7-8 s before; a few more reached the parse timeout."""
    for levels in (16, 17, 40):
        _refused_fast(QASM3 + nested_definitions(levels) + " qubit[1] q; h q[0];", Limits())
    # the definitions' own expanded size has the limit too: 600 + 1200 + 2400 operations
    wide = (
        "gate big a {"
        + " h a;" * 600
        + "} gate big2 a {big a; big a;} gate big4 a {big2 a; big2 a;}"
    )
    _refused_fast(QASM3 + wide + " qubit[1] q; h q[0];", Limits(max_gates=3000))
    assert parse_circuit(QASM3 + wide + " qubit[1] q; h q[0];", Limits(max_gates=5000))
    # and the same through the parser processes
    started = time.monotonic()
    status, (message, _, _) = describe_here(
        QASM3 + nested_definitions(17) + " qubit[1] q; h q[0];", Limits()
    )
    assert (status, "QORCH_MAX_GATES" in message) == ("refused", True)
    assert time.monotonic() - started < 2.0


def test_qasm3_switch_bodies_are_counted() -> None:
    source = (
        QASM3 + nested_definitions(12) + " qubit[1] q; const int i = 1;"
        " switch (i) { case 0 { h q[0]; } case 1 { g12 q[0]; g12 q[0]; g12 q[0]; } default { } }"
    )
    _refused_fast(source, Limits(max_gates=10_000))
    broadcast = QASM3 + "qubit[600] q; const int i = 1; switch (i) { default { h q; h q; } }"
    _refused_fast(broadcast, Limits(max_gates=1000))


def test_qasm3_powers_and_controls_of_deep_gates_are_refused_at_once() -> None:
    """`pow(4) @ g16` was accepted after 13.9 s as one UnitaryGate built from g16's matrix."""
    deep = QASM3 + nested_definitions(12) + " qubit[4] q; "  # g12: 4,096 operations
    _refused_fast(deep + "pow(30) @ g12 q[0];", Limits())
    _refused_fast(deep + "pow(0.5) @ g12 q[0];", Limits())
    _refused_fast(deep + "pow(-0.5) @ g12 q[0];", Limits())
    _refused_fast(deep + "ctrl(2) @ g12 q[0], q[1], q[2];", Limits())
    _refused_fast(deep + "negctrl(3) @ g12 q[0], q[1], q[2], q[3];", Limits())
    _refused_fast(deep + "inv @ ctrl @ pow(10) @ g12 q[0], q[1];", Limits())
    _refused_fast(deep + "ctrl @ g12 q[0], q[1];" * 4, Limits())
    # a matrix of a 5-qubit gate, and more controls than qubits anywhere
    wide = (
        QASM3 + "gate w a, b, c, d, e { h a; } qubit[5] q; pow(2) @ w q[0], q[1], q[2], q[3], q[4];"
    )
    _refused_fast(wide, Limits(), match="at most 4 qubits")
    _refused_fast(QASM3 + "qubit[2] q; ctrl(5000) @ x q[0], q[1];", Limits(), "QORCH_MAX_QUBITS")


def test_qasm3_small_modifier_uses_still_parse_and_are_costed_by_modifier() -> None:
    small = (
        QASM3 + "gate g a, b { cx a, b; h b; } qubit[3] q; bit[3] c;"
        " ctrl @ x q[0], q[1]; negctrl @ h q[0], q[1]; inv @ s q[0]; pow(2) @ x q[0];"
        " pow(0.5) @ x q[1]; pow(-1) @ t q[2]; ctrl(2) @ x q[0], q[1], q[2];"
        " ctrl @ gphase(0.1) q[0];"
        " pow(3) @ g q[0], q[1]; inv @ g q[1], q[2]; ctrl @ g q[0], q[1], q[2]; c = measure q;"
    )
    parsed = parse_circuit(small, Limits())
    assert (parsed.metrics.qubits, parsed.metrics.clbits, parsed.has_measurements) == (3, 3, True)
    assert parsed.metrics.gates_total == 11
    status, facts = describe_here(small, Limits())
    assert (status, facts["qubits"]) == ("ok", 3)
    # the modifier decides the cost: 5 operations under ctrl(2) are more than 100
    five = QASM3 + "gate f a {h a; t a; h a; s a; h a;} qubit[3] q; "
    assert parse_circuit(five + "ctrl @ f q[0], q[1];", Limits(max_gates=100))
    assert parse_circuit(five + "pow(4) @ f q[0];", Limits(max_gates=100))
    _refused_fast(five + "ctrl(2) @ f q[0], q[1], q[2];", Limits(max_gates=100))
    _refused_fast(five + "pow(30) @ f q[0];", Limits(max_gates=100))
