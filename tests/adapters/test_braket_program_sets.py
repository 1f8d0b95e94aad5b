"""Amazon Braket program sets: a job's executions (circuit x measurement group x parameter set)
packed into as few tasks as the device allows (one per-task fee each), priced honestly by dry
runs, mapped back to qorch's nesting, and charged for what really ran; a failed task marks its
parameter sets failed instead of throwing the job's other results away.

Through the real SDK against the loopback fake (tests/fakes/braket_api.py), which runs program
sets in Braket's default simulator.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from qorch.adapters.providers import Registry
from qorch.adapters.providers.braket.provider import BraketProvider
from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.execution import (
    CircuitOutcome,
    CircuitTask,
    ExecutionTask,
    ObservableSpec,
    ProviderError,
)
from tests.adapters import test_braket as stories
from tests.adapters.test_braket import (
    CREDENTIALS,
    DEVICES,
    LOCAL,
    poll_until_done,
    submitted_by_the_executor,
)
from tests.conftest import RY_CX, RY_MEASURED
from tests.fakes.braket_api import FORTE, FakeBraket

fake, config, braket = stories.fake, stories.config, stories.braket  # the same fixtures

FORTE_TASK, FORTE_SHOT = 0.30, 0.08
FLIP_SECOND = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[2] q;
bit[2] c;
x q[0];
rx(theta) q[1];
c = measure q;
"""


def sweep(sets: int) -> tuple[tuple[float, ...], ...]:
    """theta = 0, pi, 0, pi, ...: every outcome is certain, so results compare exactly."""
    return tuple((math.pi * (index % 2),) for index in range(sets))


def job(
    device_id: str, shots: int, *circuits: CircuitTask, job_id: str = "job-sweep"
) -> ExecutionTask:
    return ExecutionTask(job_id, device_id, "Run", shots, circuits, client_token=job_id)


def certain_counts(circuit: CircuitOutcome, shots: int, ones: str, zeros: str) -> None:
    """Even sets measured `zeros`, odd sets `ones`, every shot."""
    assert circuit.counts is not None
    for index, counts in enumerate(circuit.counts):
        assert counts == {ones if index % 2 else zeros: shots}, index


# --- one task for a sweep -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inline", "shots"), [(False, 1000), (True, 100)], ids=["results-in-s3-objects", "inline"]
)
def test_a_50_set_sweep_on_forte_is_one_task_priced_once(
    fake: FakeBraket, braket: BraketProvider, inline: bool, shots: int
):
    fake.program_set_results_inline = inline
    task = job("braket_ionq_forte", shots, CircuitTask(RY_MEASURED, sweep(50)))
    device = DEVICES["braket_ionq_forte"]

    # The dry run prices what the submit makes: one task fee, every shot of every set.
    estimate = LOCAL.estimate(task, device)
    assert estimate.breakdown["tasks"] == 1 and estimate.breakdown["program_sets"]
    assert estimate.usd == pytest.approx(FORTE_TASK + 50 * shots * FORTE_SHOT)

    fake.fail_next_creates(1)  # created, answer lost: the retried create makes no second task
    submitted = submitted_by_the_executor(braket, task, CREDENTIALS)

    assert fake.task_count == 1 and fake.creates == 2 and len(submitted.ids) == 1
    (created,) = fake.tasks
    assert created.is_program_set and created.executables == 50 and created.shots == 50 * shots
    (program,) = json.loads(created.action)["programs"]
    assert program["inputs"] == {"p_0": [value for (value,) in sweep(50)]}

    outcome = poll_until_done(task, submitted, braket)

    (circuit,) = outcome.circuits
    certain_counts(circuit, shots, ones="1", zeros="0")
    assert circuit.errors is None
    assert outcome.metadata["braket_tasks"] == 1 and outcome.metadata["program_sets"]
    assert outcome.cost is not None
    assert outcome.cost.source == "computed"
    assert (outcome.cost.tasks, outcome.cost.shots) == (1, 50 * shots)
    assert outcome.cost.usd == pytest.approx(FORTE_TASK + 50 * shots * FORTE_SHOT)


def test_240_executions_make_three_tasks_nested_exactly_as_on_aer(
    fake: FakeBraket, braket: BraketProvider
):
    circuits = (
        CircuitTask(RY_MEASURED, sweep(80)),
        CircuitTask(FLIP_SECOND, sweep(80)),
        CircuitTask(RY_MEASURED, sweep(80)),
    )
    task = job("braket_ionq_forte", 100, *circuits)
    device = DEVICES["braket_ionq_forte"]

    estimate = LOCAL.estimate(task, device)
    assert estimate.breakdown["tasks"] == 3  # ceil(240 / 100)
    assert estimate.usd == pytest.approx(3 * FORTE_TASK + 240 * 100 * FORTE_SHOT)

    outcome = poll_until_done(task, braket.submit(task, device, CREDENTIALS), braket)

    assert sorted(t.executables for t in fake.tasks) == [80, 80, 80]
    aer = Registry(ProviderConfig(), names=("local",)).provider("local")
    aer_device = next(d for d in aer.devices() if d.id == "aer_simulator")
    on_aer = aer.run(replace(task, device_id="aer_simulator"), aer_device, {})
    assert len(outcome.circuits) == len(on_aer.circuits) == 3
    for ours, theirs in zip(outcome.circuits, on_aer.circuits, strict=True):
        assert ours.counts == theirs.counts  # same nesting, and certain outcomes are equal
        assert ours.distributions == theirs.distributions
    certain_counts(outcome.circuits[1], 100, ones="11", zeros="01")


def test_the_device_s_own_limits_split_the_program_sets(fake: FakeBraket, braket: BraketProvider):
    fake.set_program_set_limits(FORTE, (40, 1_000_000))
    task = job("braket_ionq_forte", 10, CircuitTask(RY_MEASURED, sweep(100)))
    outcome = poll_until_done(
        task, braket.submit(task, DEVICES["braket_ionq_forte"], CREDENTIALS), braket
    )
    assert sorted(t.executables for t in fake.tasks) == [33, 33, 34]
    certain_counts(outcome.circuits[0], 10, ones="1", zeros="0")

    # The total-shot limit too: 1,000 shots in a task of at most 2,500 is 2 executions a task.
    fake.set_program_set_limits(FORTE, (100, 2_500))
    task = job("braket_ionq_forte", 1000, CircuitTask(RY_MEASURED, sweep(5)), job_id="job-shots")
    outcome = poll_until_done(
        task, braket.submit(task, DEVICES["braket_ionq_forte"], CREDENTIALS), braket
    )
    mine = [t for t in fake.tasks if t.client_token.startswith("job-shots")]
    assert sorted(t.executables for t in mine) == [1, 2, 2]  # 3 tasks for 5 executions
    assert outcome.cost is not None and outcome.cost.tasks == 3
    assert outcome.cost.usd == pytest.approx(3 * FORTE_TASK + 5 * 1000 * FORTE_SHOT)

    # A device without the action: a task per execution.
    fake.set_program_set_limits(FORTE, None)
    task = job("braket_ionq_forte", 10, CircuitTask(RY_MEASURED, sweep(4)), job_id="job-none")
    submitted = braket.submit(task, DEVICES["braket_ionq_forte"], CREDENTIALS)
    assert len(submitted.ids) == 4
    certain_counts(poll_until_done(task, submitted, braket).circuits[0], 10, ones="1", zeros="0")


def test_measurement_groups_are_programs_of_the_set_and_give_expectation_values(
    fake: FakeBraket, braket: BraketProvider
):
    observables = (ObservableSpec(("ZZ",), (1.0,)), ObservableSpec(("XX", "ZI"), (1.0, -1.0)))
    sets = ((0.0,), (math.pi,), (math.pi / 2,))
    task = job("braket_iqm_garnet", 4000, CircuitTask(RY_CX, sets, observables))
    outcome = poll_until_done(
        task, braket.submit(task, DEVICES["braket_iqm_garnet"], CREDENTIALS), braket
    )

    (created,) = fake.tasks
    assert created.executables == 3 * 2  # two groups: {ZZ, ZI} and {XX}
    (circuit,) = outcome.circuits
    assert circuit.expectation_values is not None and circuit.standard_errors is not None
    # ry(t) then cx: <ZZ> = 1; <XX> = sin(t); <ZI> = cos(t).
    exact = [[1.0, 1.0, 1.0], [0.0 - 1.0, 0.0 + 1.0, 1.0 - 0.0]]
    for o, row in enumerate(exact):
        for p, value in enumerate(row):
            error = circuit.standard_errors[o][p]
            assert abs(circuit.expectation_values[o][p] - value) <= 5 * error + 1e-9, (o, p)


# --- partial failures -----------------------------------------------------------------------------


def test_a_failed_task_of_three_marks_its_parameter_sets_and_keeps_the_others(
    fake: FakeBraket, braket: BraketProvider
):
    # 2 circuits x 60 sets in tasks of 40: task 1 holds sets 40..59 of circuit 0 and 0..19 of
    # circuit 1. It fails; the other two tasks' results come back.
    fake.set_program_set_limits(FORTE, (40, 1_000_000))
    fake.fail_tasks_whose_token_ends_with("-1", "DeviceError: calibration drifted")
    task = job(
        "braket_ionq_forte",
        10,
        CircuitTask(RY_MEASURED, sweep(60)),
        CircuitTask(FLIP_SECOND, sweep(60)),
        job_id="job-partial",
    )
    submitted = braket.submit(task, DEVICES["braket_ionq_forte"], CREDENTIALS)
    assert len(submitted.ids) == 3

    outcome = poll_until_done(task, submitted, braket)

    first, second = outcome.circuits
    assert first.errors is not None and second.errors is not None
    failed = [(0, index) for index in range(40, 60)] + [(1, index) for index in range(20)]
    for number, circuit in enumerate(outcome.circuits):
        assert circuit.counts is not None and circuit.distributions is not None
        assert circuit.errors is not None and len(circuit.errors) == 60
        for index, error in enumerate(circuit.errors):
            if (number, index) in failed:
                assert error is not None and error["code"] == "provider_failed"
                assert "calibration drifted" in error["message"]
                assert circuit.counts[index] == {} and circuit.distributions[index] == {}
            else:
                assert error is None
                zeros, ones = ("0", "1") if number == 0 else ("01", "11")
                assert circuit.counts[index] == {ones if index % 2 else zeros: 10}
    assert outcome.metadata["failed_tasks"] == 1
    # Charged: the two tasks that ran (a failed task executed no shot and costs nothing).
    assert outcome.cost is not None
    assert (outcome.cost.tasks, outcome.cost.shots) == (3, 80 * 10)
    assert outcome.cost.usd == pytest.approx(2 * FORTE_TASK + 80 * 10 * FORTE_SHOT)


def test_failed_executables_of_a_program_set_mark_their_sets_only(
    fake: FakeBraket, braket: BraketProvider
):
    observables = (ObservableSpec(("ZZ",), (1.0,)), ObservableSpec(("XX",), (1.0,)))
    sets = ((0.0,), (math.pi,), (0.0,))
    # Executables in order: one group's sets 0..2, then the other's; the 5th (second group,
    # set 1) fails, so set 1 has no value for either observable.
    fake.fail_next_executables((4,), "COMPILATION: pulse too long")
    task = job("braket_iqm_garnet", 200, CircuitTask(RY_CX, sets, observables))
    outcome = poll_until_done(
        task, braket.submit(task, DEVICES["braket_iqm_garnet"], CREDENTIALS), braket
    )

    (circuit,) = outcome.circuits
    assert circuit.errors is not None
    assert circuit.errors[0] is None and circuit.errors[2] is None
    assert circuit.errors[1] is not None and "pulse too long" in circuit.errors[1]["message"]
    assert circuit.expectation_values is not None and circuit.standard_errors is not None
    assert [math.isnan(row[1]) for row in circuit.expectation_values] == [True, True]
    assert [math.isnan(row[1]) for row in circuit.standard_errors] == [True, True]
    assert circuit.expectation_values[0][0] == 1.0 and circuit.expectation_values[0][2] == 1.0
    assert outcome.cost is not None and outcome.cost.shots == 5 * 200  # successful shots only
    assert outcome.cost.usd == pytest.approx(0.30 + 5 * 200 * 0.00145)


def test_one_failed_task_of_a_task_per_execution_job_marks_its_set(
    fake: FakeBraket, braket: BraketProvider
):
    fake.fail_tasks_whose_token_ends_with("job-sv1-r1-1", "InternalError: out of memory")
    fake.simulator_duration_ms = 90_000
    task = job("braket_sv1", 50, CircuitTask(RY_MEASURED, sweep(3)), job_id="job-sv1-r1")
    submitted = braket.submit(task, DEVICES["braket_sv1"], CREDENTIALS)
    assert len(submitted.ids) == 3  # SV1 has no program sets

    outcome = poll_until_done(task, submitted, braket)

    (circuit,) = outcome.circuits
    assert circuit.counts == [{"0": 50}, {}, {"0": 50}]
    assert circuit.errors is not None and circuit.errors[0] is None and circuit.errors[2] is None
    assert circuit.errors[1] is not None and "out of memory" in circuit.errors[1]["message"]
    # SV1 is billed per minute of the durations the two finished tasks reported.
    assert outcome.cost is not None and outcome.cost.tasks == 3
    assert outcome.cost.seconds == pytest.approx(180.0)
    assert outcome.cost.usd == pytest.approx(2 * 90 * 0.075 / 60)


def test_when_every_task_fails_the_job_fails_as_before(fake: FakeBraket, braket: BraketProvider):
    fake.set_program_set_limits(FORTE, (40, 1_000_000))
    fake.fail_next_tasks(2, "ValidationException: circuit too deep")
    task = job("braket_ionq_forte", 10, CircuitTask(RY_MEASURED, sweep(80)), job_id="job-lost")
    submitted = braket.submit(task, DEVICES["braket_ionq_forte"], CREDENTIALS)
    assert len(submitted.ids) == 2
    with pytest.raises(ProviderError) as raised:
        poll_until_done(task, submitted, braket)
    assert raised.value.code == "provider_failed"
    assert raised.value.provider_code == "ValidationException"
    assert "circuit too deep" in raised.value.message


# --- where program sets are not used --------------------------------------------------------------


def test_ionq_debiasing_keeps_a_task_per_execution_and_the_dry_run_says_so(
    fake: FakeBraket, braket: BraketProvider
):
    task = replace(
        job("braket_ionq_aria", 2500, CircuitTask(RY_MEASURED, sweep(2))), use_mitigation=True
    )
    device = DEVICES["braket_ionq_aria"]
    estimate = LOCAL.estimate(task, device)
    assert estimate.breakdown["tasks"] == 2 and not estimate.breakdown["program_sets"]
    assert estimate.usd == pytest.approx(2 * (0.30 + 2500 * 0.03))
    submitted = braket.submit(task, device, CREDENTIALS)
    assert len(submitted.ids) == 2 and not any(t.is_program_set for t in fake.tasks)


def test_the_local_simulator_runs_a_sweep_in_program_sets_too():
    task = job("braket_sv", 100, CircuitTask(RY_MEASURED, sweep(150)))
    outcome = LOCAL.run(task, DEVICES["braket_sv"], {})
    assert outcome.metadata["braket_tasks"] == 2  # its own limit: 100 executables a set
    certain_counts(outcome.circuits[0], 100, ones="1", zeros="0")
    assert outcome.cost is None  # free
    assert LOCAL.estimate(task, DEVICES["braket_sv"]).breakdown["tasks"] == 2
