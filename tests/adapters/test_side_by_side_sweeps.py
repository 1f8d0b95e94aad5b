"""A dense sweep of many parameter sets runs Aer's experiments side by side, one thread each,
and answers exactly what one thread answers: the same seeded counts, the same exact values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.local import build
from qorch.adapters.providers.local.client import SIDE_BY_SIDE_EXPERIMENTS
from qorch.domain.execution import CircuitTask, ExecutionOutcome, ExecutionTask, ObservableSpec
from tests.adapters.aer_runs import noted_options

RY_CX = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float a;\ninput float b;\nqubit[3] q;\n'
    "bit[3] c;\nry(a) q[0];\nry(b) q[1];\ncx q[0], q[2];\ncx q[1], q[2];\nc = measure q;\n"
)


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    return noted_options(monkeypatch)


def sets(count: int) -> tuple[tuple[float, ...], ...]:
    return tuple((0.3 * s, math.pi - 0.2 * s) for s in range(count))


def run(task: ExecutionTask, device_id: str = "aer_simulator") -> ExecutionOutcome:
    local = build(ProviderConfig())
    device = next(d for d in local.devices() if d.id == device_id)
    return local.run(task, device, {})


def one_thread(task: ExecutionTask) -> ExecutionOutcome:
    """The task run as before sweeps ran side by side."""
    from qorch.adapters.providers.local import client

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(client, "SIDE_BY_SIDE_EXPERIMENTS", 10**9)
        return run(task, task.device_id)


def test_a_sampling_sweep_runs_side_by_side_and_counts_as_one_thread_does(
    seen: list[dict[str, object]],
):
    many = SIDE_BY_SIDE_EXPERIMENTS
    task = ExecutionTask(
        "j", "aer_simulator", "Run", 500, (CircuitTask(RY_CX, sets(many)),), {"seed_simulator": 5}
    )
    few = ExecutionTask("j", "aer_simulator", "Run", 500, (CircuitTask(RY_CX, sets(2)),))

    side_by_side = run(task)
    run(few)

    assert seen[0].get("max_parallel_experiments") == 0
    assert seen[1].get("max_parallel_threads") == 1  # two sets of 3 qubits: one thread, as before
    alone = one_thread(task)
    assert "max_parallel_experiments" not in seen[2]
    counts = side_by_side.circuits[0].counts
    assert counts is not None and len(counts) == many
    assert counts == alone.circuits[0].counts


def test_an_exact_sweep_runs_side_by_side_with_the_same_values(seen: list[dict[str, object]]):
    observables = (ObservableSpec(("ZZI", "IXX"), (1.0, 0.5)), ObservableSpec(("IIZ",), (1.0,)))
    task = ExecutionTask(
        "j",
        "aer_simulator_statevector",
        "StatevectorRun",
        1,
        (CircuitTask(RY_CX, sets(12), observables), CircuitTask(RY_CX, sets(9))),
    )

    side_by_side = run(task, "aer_simulator_statevector")

    assert [s.get("max_parallel_experiments") for s in seen] == [0, 0]  # estimator, states
    alone = one_thread(task)
    assert [s.get("max_parallel_threads") for s in seen[2:]] == [1, 1]
    for ours, theirs in zip(side_by_side.circuits, alone.circuits, strict=True):
        assert ours.expectation_values == theirs.expectation_values
        assert ours.probabilities == theirs.probabilities
    values = np.asarray(side_by_side.circuits[0].expectation_values)
    assert values.shape == (2, 12)
