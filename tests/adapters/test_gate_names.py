"""A user's own gate named like an instruction a simulator or the transpiler knows (`unitary`,
`kraus`, `save_statevector`, `h`, `rzz`, ...) runs as the user defined it, in OpenQASM 2 and 3,
on every provider. The reserved names are read from qiskit-aer and Qiskit, not listed here."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import openqasm3
import pytest
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.circuit import CONTROL_FLOW_OP_NAMES, Parameter
from qiskit.circuit.library import (
    ECRGate,
    HGate,
    RYYGate,
    RZZGate,
    SXdgGate,
    UnitaryGate,
    get_standard_gate_name_mapping,
    iSwapGate,
)
from qiskit.quantum_info import Operator, Statevector
from qiskit_aer import AerSimulator

from qorch.adapters.providers.braket import build as braket
from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ibm import build as ibm
from qorch.adapters.providers.ionq import build as ionq
from qorch.adapters.providers.local import build as local
from qorch.adapters.providers.pipeline.gate_names import reserved_names
from qorch.adapters.qasm import CircuitTooLarge, QasmError, parse_circuit
from qorch.domain.devices import Device
from qorch.domain.execution import CircuitTask, ExecutionOutcome, ExecutionTask
from qorch.domain.ports import Provider
from tests.fakes.ionq_api import FakeIonQ

THETA = 2 * math.pi / 3
"""Each user gate below is ry(THETA): P(1) = 3/4, which no standard gate of the same name gives
to |0> (H: 1/2, X and Y: 1, the diagonal ones and identities: 0; others need more qubits)."""


def definable(name: str, version: int) -> bool:
    """Whether the language lets a program define a gate of this name (not `measure`, ...)."""
    try:
        if version == 3:
            openqasm3.parse(f"OPENQASM 3.0; gate {name} a {{ U(pi, 0, pi) a; }}")
        else:
            qasm2.loads(
                f"OPENQASM 2.0; gate {name} a {{ U(pi, 0, pi) a; }}", custom_instructions=()
            )
    except Exception:
        return False
    return True


def names_definable_in(version: int) -> list[str]:
    return [name for name in sorted(reserved_names()) if definable(name, version)]


def program(version: int, definitions: dict[str, str], calls: list[str], measure: bool) -> str:
    """A one-qubit program defining gates (name -> body on qubit `a`) and calling them."""
    defs = "".join(f"gate {name} a {{ {body} }}\n" for name, body in definitions.items())
    body = "".join(f"{name} q[0];\n" for name in calls)
    if version == 3:
        return f"OPENQASM 3.0;\n{defs}qubit[1] q;\nbit[1] c;\n{body}" + (
            "c[0] = measure q[0];\n" if measure else ""
        )
    return f"OPENQASM 2.0;\n{defs}qreg q[1];\ncreg c[1];\n{body}" + (
        "measure q[0] -> c[0];\n" if measure else ""
    )


def test_every_name_aer_or_qiskit_gives_an_instruction_is_reserved():
    aer = AerSimulator().configuration()
    assert set(aer.basis_gates) <= reserved_names()
    assert set(aer.custom_instructions) <= reserved_names()
    assert set(get_standard_gate_name_mapping()) <= reserved_names()
    assert set(CONTROL_FLOW_OP_NAMES) <= reserved_names()
    assert {"unitary", "kraus", "superop", "initialize", "save_statevector", "set_unitary"} <= (
        reserved_names()
    )


@pytest.mark.parametrize("version", [2, 3])
def test_a_user_gate_under_every_reserved_name_computes_what_its_definition_says(version: int):
    names = names_definable_in(version)
    assert len(names) > 100  # Aer's and Qiskit's names, less the language's own keywords
    circuits = [
        program(version, {name: f"U({THETA}, 0, 0) a;"}, [name], measure=False) for name in names
    ]
    task = ExecutionTask(
        "job-names", "aer_simulator", "StatevectorRun", 1, tuple(map(CircuitTask, circuits))
    )
    provider = local(ProviderConfig())

    outcome = provider.run(task, provider_device(provider, "aer_simulator"), {})

    for name, circuit in zip(names, outcome.circuits, strict=True):
        assert circuit.probabilities is not None
        assert circuit.probabilities[0].get("1", 0.0) == pytest.approx(0.75, abs=1e-9), name


def test_a_matrix_gate_exported_by_qasm3_dumps_reads_back_as_the_same_operator():
    matrix = Operator.from_label("H").compose(Operator.from_label("T")).data
    circuit = QuantumCircuit(2)
    circuit.append(UnitaryGate(matrix), [0])
    circuit.cx(0, 1)
    source = qasm3.dumps(circuit)
    assert "gate unitary" in source  # what the exporter writes for every UnitaryGate

    parsed = parse_circuit(source).circuit

    assert "unitary" not in {instruction.operation.name for instruction in parsed.data}
    assert Statevector(parsed).equiv(Statevector(circuit))


def test_a_gate_defined_inside_another_is_renamed_where_it_is_called():
    source = program(
        2, {"kraus": f"U({THETA}, 0, 0) a;", "outer": "kraus a;"}, ["outer"], measure=False
    )

    (instruction,) = parse_circuit(source).circuit.data

    assert instruction.operation.name == "outer"
    inner = [i.operation.name for i in instruction.operation.definition.data]
    assert inner == ["kraus_gate"]


def test_ctrl_of_a_users_own_x_controls_the_users_gate_not_a_cnot():
    # Qiskit builds `ctrl @` of any gate named "x" as a CNOT; here x is the user's Hadamard.
    source = (
        "OPENQASM 3.0;\ngate x a { U(pi/2, 0, pi) a; }\nqubit[2] q;\n"
        "U(pi, 0, pi) q[0];\nctrl @ x q[0], q[1];\n"
    )

    state = Statevector(parse_circuit(source).circuit)

    # |01>, |11> (qubit 0 rightmost): a controlled Hadamard, not a CNOT (which gives |11>)
    assert state.probabilities() == pytest.approx([0, 0.5, 0, 0.5])


def test_standard_gates_written_out_by_qasm3_dumps_read_back_as_those_gates():
    # What the haiqu-sdk's uploads become: dumps defines every gate outside stdgates.inc (and
    # drops the global phase of sxdg's definition); a device's native rzz or ecr must stay so.
    theta = Parameter("theta")
    circuit = QuantumCircuit(2)
    circuit.rzz(theta, 0, 1)
    circuit.ecr(0, 1)
    circuit.sxdg(0)
    circuit.ryy(2 * theta, 0, 1)
    circuit.iswap(0, 1)

    parsed = parse_circuit(qasm3.dumps(circuit)).circuit

    kinds = [RZZGate, ECRGate, SXdgGate, RYYGate, iSwapGate]
    assert [i.operation.base_class for i in parsed.data] == kinds
    bound = {parsed.parameters[0]: 0.3}
    exact = Operator(circuit.assign_parameters({theta: 0.3}))
    assert Operator(parsed.assign_parameters(bound)) == exact  # global phase included


def rzz_program(definition: str) -> str:
    return (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
        f"gate rzz(param0) q0,q1 {{ {definition} }}\n"
        "qreg q[2];\nh q[0];\nrzz(0.7) q[0],q[1];\n"
    )


def test_a_qasm2_definition_of_a_standard_gate_is_kept_only_when_it_is_that_gate():
    expected = QuantumCircuit(2)
    expected.h(0)
    expected.rzz(0.7, 0, 1)
    # What older Qiskit versions' qasm2.dumps wrote for RZZGate, and a definition of its own.
    exported = parse_circuit(rzz_program("cx q0,q1; u1(param0) q1; cx q0,q1;")).circuit
    own = parse_circuit(rzz_program("cx q0,q1; u1(param0) q1; cx q0,q1; x q0;")).circuit

    h, rzz = (instruction.operation for instruction in exported.data)
    assert isinstance(h, HGate) and isinstance(rzz, RZZGate)
    assert Operator(exported).equiv(Operator(expected))
    assert [i.operation.name for i in own.data] == ["h", "rzz_gate"]
    assert not Operator(own).equiv(Operator(expected))


@pytest.mark.parametrize("name", ["cx", "ecr", "unitary"])
def test_a_standard_name_over_a_definition_bomb_is_refused_by_the_gate_limit_not_expanded(
    name: str,
):
    # 2^60 operations: comparing it with the standard gate would never end.
    bomb = "gate g0 a { U(0.1, 0, 0) a; }\n" + "".join(
        f"gate g{k} a {{ g{k - 1} a; g{k - 1} a; }}\n" for k in range(1, 61)
    )
    source = f"OPENQASM 2.0;\n{bomb}gate {name} a, b {{ g60 a; }}\nqreg q[2];\n{name} q[0], q[1];\n"

    started = time.monotonic()
    with pytest.raises(CircuitTooLarge, match="QORCH_MAX_GATES"):
        parse_circuit(source)
    assert time.monotonic() - started < 5


def test_redefining_a_gate_the_program_includes_is_still_an_error():
    with pytest.raises(QasmError, match="already defined"):
        parse_circuit(
            'OPENQASM 3.0;\ninclude "stdgates.inc";\ngate h a { x a; }\nqubit[1] q;\nh q[0];\n'
        )


# --- every provider: the shared loading, then each provider's own transpiling ------------------


def all_names_flip(version: int) -> str:
    """Every reserved name as a user gate flipping the qubit, called an odd number of times in
    all: the qubit ends in |1> only if every call ran as its definition."""
    names = names_definable_in(version)
    calls = names + names[:1] if len(names) % 2 == 0 else names
    return program(version, dict.fromkeys(names, "U(pi, 0, pi) a;"), calls, measure=True)


def provider_device(provider: Provider, device_id: str) -> Device:
    return next(device for device in provider.devices() if device.id == device_id)


def flip_task(device_id: str, shots: int = 100) -> ExecutionTask:
    circuits = (CircuitTask(all_names_flip(2)), CircuitTask(all_names_flip(3)))
    return ExecutionTask(
        "job-flip", device_id, "Run", shots, circuits, options={}, client_token="job-flip"
    )


def counts_of(outcome: ExecutionOutcome) -> list[dict[str, int]]:
    counts = [circuit.counts[0] for circuit in outcome.circuits if circuit.counts]
    assert len(counts) == 2
    return counts


@pytest.mark.parametrize(
    ("build", "device_id"),
    [(local, "aer_simulator"), (local, "aer_simulator_stabilizer"), (braket, "braket_sv")],
)
def test_local_simulators_of_every_provider_run_the_users_gates(
    build: Callable[[ProviderConfig], Provider], device_id: str
):
    provider = build(ProviderConfig())

    outcome = provider.run(flip_task(device_id), provider_device(provider, device_id), {})

    assert counts_of(outcome) == [{"1": 100}, {"1": 100}]


def test_ibm_local_testing_mode_runs_the_users_gates():
    provider = ibm(ProviderConfig())
    task = flip_task("runtime_fake_manila", shots=400)

    outcome = provider.run(task, provider_device(provider, "runtime_fake_manila"), {})

    for counts in counts_of(outcome):  # a noisy device: mostly 1
        assert counts.get("1", 0) > 0.8 * 400, counts


@pytest.fixture
def ionq_api() -> Iterator[FakeIonQ]:
    with FakeIonQ("ionq-key-for-gate-names") as fake:
        yield fake


def test_ionq_runs_the_users_gates(ionq_api: FakeIonQ):
    provider = ionq(ProviderConfig(ionq_api_url=ionq_api.url))
    device = provider_device(provider, "ionq_simulator")
    task = flip_task("ionq_simulator")
    credentials = {"ionq_api_key": "ionq-key-for-gate-names"}

    job = provider.submit(task, device, credentials)
    outcome = None
    for _ in range(200):
        outcome = provider.poll(task, device, job, credentials)
        if outcome is not None:
            break
        time.sleep(0.02)

    assert outcome is not None
    assert counts_of(outcome) == [{"1": 100}, {"1": 100}]
