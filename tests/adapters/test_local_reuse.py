"""A small local job spends no time it need not: a circuit transpiled for an earlier job serves
again where the passes' answer cannot change the results, and Aer runs in the calling thread.
Either way the job answers exactly what it answered before (seeded counts, values, states)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.local import build, client
from qorch.adapters.providers.pipeline import circuits as pipeline
from qorch.domain.execution import CircuitTask, ExecutionOutcome, ExecutionTask, ObservableSpec
from tests.conftest import BELL_QASM3, RY_CX, RY_RX

LOCAL = build(ProviderConfig())
SETS = ((0.4, 2.0), (1.1, -0.7), (3.0, 0.2))
OBSERVABLES = (ObservableSpec(("ZZ", "XI"), (1.0, 0.5)),)


def run(device_id: str, *circuits: CircuitTask, **options: Any) -> ExecutionOutcome:
    run_type = options.pop("run_type", "Run")
    task = ExecutionTask("job", device_id, run_type, 2000, circuits, options)
    device = next(d for d in LOCAL.devices() if d.id == device_id)
    return LOCAL.run(task, device, {})


def answers(outcome: ExecutionOutcome) -> list[tuple[Any, ...]]:
    return [
        (c.counts, c.expectation_values, c.statevectors, c.transpiled) for c in outcome.circuits
    ]


@pytest.fixture
def transpiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The passes run from now on (each the qubits of the circuit run through them), with
    nothing kept from before."""
    ran: list[int] = []
    managers: dict[tuple[Any, ...], Any] = {}
    real = client.pass_manager_for

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def run(self, circuit: QuantumCircuit) -> QuantumCircuit:
            ran.append(circuit.num_qubits)
            return self.inner.run(circuit)

    def counting(*key: Any) -> Any:
        return managers.setdefault(key, Counting(real(*key)))

    monkeypatch.setattr(client, "pass_manager_for", counting)
    monkeypatch.setattr(pipeline, "_reused", OrderedDict())
    return ran


def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """As before: every job transpiled anew, Aer run through its job and thread pool."""
    monkeypatch.setattr(pipeline, "REUSED_INSTRUCTIONS", -1)
    monkeypatch.setattr(pipeline, "_reused", OrderedDict())

    def public(backend: Any, circuits: Any, binds: Any, **options: Any) -> Any:
        return backend.run(circuits, parameter_binds=binds, **options).result()

    monkeypatch.setattr(client, "ran", public)


JOBS: list[tuple[str, tuple[CircuitTask, ...], dict[str, Any]]] = [
    (
        "aer_simulator",
        (
            CircuitTask(BELL_QASM3),
            CircuitTask(RY_RX, parameter_sets=SETS),
            CircuitTask(RY_RX, parameter_sets=SETS, observables=OBSERVABLES),
        ),
        {"seed_simulator": 11},
    ),
    (
        "aer_simulator_statevector",
        (CircuitTask(RY_CX, parameter_sets=((0.3,), (1.2,))),),
        {"run_type": "StatevectorRun"},
    ),
    ("fake_manila", (CircuitTask(BELL_QASM3),), {"seed_simulator": 3, "seed_transpiler": 7}),
]


@pytest.mark.parametrize(("device_id", "circuits", "options"), JOBS)
def test_a_job_run_again_answers_what_it_answered_when_all_was_done_anew(
    monkeypatch: pytest.MonkeyPatch,
    transpiles: list[int],
    device_id: str,
    circuits: tuple[CircuitTask, ...],
    options: dict[str, Any],
):
    first = run(device_id, *circuits, **dict(options))
    again = run(device_id, *circuits, **dict(options))
    assert len(transpiles) == len(circuits)  # the second job transpiled nothing
    assert again.metadata["transpile_seconds"] < first.metadata["transpile_seconds"]
    with monkeypatch.context() as before:
        fresh(before)
        anew = run(device_id, *circuits, **dict(options))

    assert answers(again) == answers(first) == answers(anew)


def test_a_noisy_device_transpiles_each_unseeded_job_anew(transpiles: list[int]):
    for _ in range(2):
        run("fake_manila", CircuitTask(BELL_QASM3), seed_simulator=1)

    assert transpiles == [2, 2]


def test_what_is_kept_is_bounded_in_number_and_in_size(
    monkeypatch: pytest.MonkeyPatch, transpiles: list[int]
):
    monkeypatch.setattr(pipeline, "REUSED_TRANSPILES", 2)
    sources = [BELL_QASM3.replace("h q[0];", f"rz({k / 10}) q[1];\nh q[0];") for k in range(3)]
    for source in sources:
        run("aer_simulator", CircuitTask(source))
    run("aer_simulator", CircuitTask(sources[0]))  # the least recently used went first
    assert len(pipeline._reused) == 2 and len(transpiles) == 4

    monkeypatch.setattr(pipeline, "REUSED_INSTRUCTIONS", 3)  # the Bell circuit has 4
    run("aer_simulator", CircuitTask(BELL_QASM3))
    run("aer_simulator", CircuitTask(BELL_QASM3))
    assert len(transpiles) == 6


def test_aer_in_the_calling_thread_answers_what_its_job_answers():
    theta = Parameter("theta")
    circuit = QuantumCircuit(2, 2)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    for device_id in ("aer_simulator", "fake_manila"):
        backend = client.simulator(device_id)
        isa = client.pass_manager_for(device_id, 1, 5).run(circuit)
        binds = [{isa.parameters[0]: np.array([0.3, 1.9, 2.5])}]
        options = {"shots": 500, "seed_simulator": 9}
        ours = client.ran(backend, [isa], binds, **options)
        theirs = backend.run([isa], parameter_binds=binds, **options).result()
        assert ours.success and ours.get_counts() == theirs.get_counts()
