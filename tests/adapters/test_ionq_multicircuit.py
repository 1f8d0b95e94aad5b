"""IonQ multi-circuit jobs: a user's job of many circuits, parameter sets and measurement groups
becomes ONE IonQ job (split only at IonQ's limits), its results come back nested as on Aer,
circuits that failed at IonQ leave errors beside what ran, and the job's cost is IonQ's answer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import pytest

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ionq import batches, build, jobs
from qorch.adapters.providers.ionq.provider import IonQProvider
from qorch.adapters.providers.local import build as build_local
from qorch.adapters.providers.local.catalogue import find_local_device
from qorch.adapters.providers.pipeline.prices import load_prices
from qorch.domain.execution import (
    ActualCost,
    CircuitTask,
    ExecutionOutcome,
    ExecutionTask,
    ObservableSpec,
    ProviderError,
    ProviderJob,
)
from qorch.domain.results import nest_results
from tests.conftest import BELL_QASM2 as BELL
from tests.conftest import GHZ3_QASM2 as GHZ3
from tests.conftest import RY_CX
from tests.fakes.ionq_api import LIST_PRICES, FakeIonQ

KEY = "ionq-key-for-multicircuit-tests"
CREDENTIALS = {"ionq_api_key": KEY}
OFFLINE = build(ProviderConfig())
DEVICES = {device.id: device for device in OFFLINE.devices()}
LOCAL = build_local(ProviderConfig())
PI = math.pi


def qasm2(qubits: int, clbits: int, body: str) -> str:
    return f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{qubits}];\ncreg c[{clbits}];\n{body}'


def qasm3(inputs: str, qubits: int, body: str) -> str:
    return (
        f'OPENQASM 3.0;\ninclude "stdgates.inc";\n{inputs}qubit[{qubits}] q;\n'
        f"bit[{qubits}] c;\n{body}c = measure q;\n"
    )


# Ten circuits, three with parameter sets: 13 executions. Deterministic ones carry their outcome.
TEN: list[tuple[CircuitTask, list[str] | None]] = [
    (CircuitTask(BELL), None),
    (CircuitTask(qasm2(2, 2, "x q[0];\nmeasure q -> c;\n")), ["01"]),
    (CircuitTask(qasm2(2, 1, "x q[1];\nmeasure q[1] -> c[0];\n")), ["1"]),
    (CircuitTask(GHZ3), None),
    (
        CircuitTask(
            qasm3("input float[64] theta;\n", 2, "ry(theta) q[0];\ncx q[0], q[1];\n"),
            parameter_sets=((0.0,), (PI,)),
        ),
        ["00", "11"],
    ),
    (CircuitTask(qasm2(3, 3, "x q[0];\nx q[1];\nx q[2];\nmeasure q -> c;\n")), ["111"]),
    (CircuitTask(qasm2(1, 1, "h q[0];\nmeasure q -> c;\n")), None),
    (CircuitTask(qasm2(2, 2, "x q[0];\nswap q[0],q[1];\nmeasure q -> c;\n")), ["10"]),
    (CircuitTask(qasm2(3, 1, "x q[2];\nh q[0];\nmeasure q[2] -> c[0];\n")), ["1"]),
    (
        CircuitTask(
            qasm3("input float[64] a;\ninput float[64] b;\n", 2, "rx(a) q[0];\nrx(b) q[1];\n"),
            parameter_sets=((0.0, PI), (PI, 0.0), (PI, PI)),
        ),
        ["10", "01", "11"],
    ),
]
EXECUTIONS = 13


@pytest.fixture
def fake() -> Iterator[FakeIonQ]:
    with FakeIonQ(KEY) as server:
        yield server


def ionq_at(fake: FakeIonQ) -> IonQProvider:
    return build(ProviderConfig(ionq_api_url=fake.url, call_timeout=15.0))


def task_for(
    device_id: str, *circuits: CircuitTask, shots: int = 1000, token: str = "job-multi"
) -> ExecutionTask:
    return ExecutionTask(
        job_id=token,
        device_id=device_id,
        run_type="Run",
        shots=shots,
        circuits=circuits,
        client_token=token,
    )


def run(task: ExecutionTask, ionq: IonQProvider) -> tuple[ProviderJob, ExecutionOutcome]:
    device = DEVICES[task.device_id]
    job = ionq.submit(task, device, CREDENTIALS)
    for _ in range(100):
        outcome = ionq.poll(task, device, job, CREDENTIALS)
        if outcome is not None:
            return job, outcome
        time.sleep(0.01)
    raise AssertionError("the job never finished")


def on_aer(task: ExecutionTask) -> ExecutionOutcome:
    aer = ExecutionTask(**{**task.__dict__, "device_id": "aer_simulator"})
    device = find_local_device("aer_simulator", LOCAL.config.max_dense_qubits)
    assert device is not None
    return LOCAL.run(aer, device, {})


def shape_of(value: Any) -> Any:
    """The nesting of a result: lists kept, every leaf (number, distribution) a marker."""
    if isinstance(value, list):
        return [shape_of(item) for item in value]
    return "leaf"


def test_ten_circuits_make_one_ionq_job_and_come_back_nested_as_on_aer(fake: FakeIonQ) -> None:
    task = task_for("ionq_simulator", *(circuit for circuit, _ in TEN))

    job, outcome = run(task, ionq_at(fake))

    # One POST, one multi-circuit job holding every execution, one id recorded.
    (post,) = fake.requests_to("POST", "/v0.4/jobs")
    assert fake.creates == 1 and len(job.ids) == 1
    assert post.body["type"] == "ionq.multi-circuit.v1"
    assert len(post.body["input"]["circuits"]) == EXECUTIONS and post.body["shots"] == 1000
    assert [c["name"] for c in post.body["input"]["circuits"]][4:6] == ["4.0.0", "4.1.0"]
    assert "qiskit_header" not in post.body["metadata"]

    aer = on_aer(task)
    ours = nest_results(outcome, with_parameters=True, with_observables=False)
    theirs = nest_results(aer, with_parameters=True, with_observables=False)
    for key in ("quantum_results", "counts", "uncertainty"):
        assert shape_of(ours[key]) == shape_of(theirs[key]), key
    assert "errors" not in ours
    for index, (_, expected) in enumerate(TEN):
        counts = outcome.circuits[index].counts
        aer_counts = aer.circuits[index].counts
        assert counts is not None and aer_counts is not None
        if expected is None:  # random outcomes: the same ones, each set summing to the shots
            assert [set(c) for c in counts] == [set(c) for c in aer_counts], index
            assert all(sum(c.values()) == 1000 for c in counts)
        else:
            assert counts == aer_counts == [{bits: 1000} for bits in expected], index
            assert outcome.circuits[index].distributions == [{bits: 1.0} for bits in expected]


def test_observables_of_many_circuits_come_back_nested_as_on_aer(fake: FakeIonQ) -> None:
    zz_xx = (ObservableSpec(("ZZ",), (1.0,)), ObservableSpec(("XX", "ZI"), (1.0, -0.5)))
    task = task_for(
        "ionq_simulator",
        CircuitTask(BELL, observables=zz_xx),
        CircuitTask(RY_CX, parameter_sets=((0.0,), (PI / 3,), (PI,)), observables=zz_xx),
        shots=4000,
    )

    job, outcome = run(task, ionq_at(fake))

    (post,) = fake.requests_to("POST", "/v0.4/jobs")
    assert len(job.ids) == 1 and len(post.body["input"]["circuits"]) == 2 + 3 * 2
    aer = on_aer(task)
    ours = nest_results(outcome, with_parameters=True, with_observables=True)
    theirs = nest_results(aer, with_parameters=True, with_observables=True)
    assert shape_of(ours["quantum_results"]) == shape_of(theirs["quantum_results"])
    assert shape_of(ours["uncertainty"]) == shape_of(theirs["uncertainty"])
    bell = outcome.circuits[0].expectation_values  # ZZ is exact; XX = 1, ZI averages 0
    assert bell is not None and bell[0] == [1.0] and bell[1][0] == pytest.approx(1.0, abs=0.1)
    for mine, exact in zip(ours["quantum_results"][1], theirs["quantum_results"][1], strict=True):
        assert mine == pytest.approx(exact, abs=0.1)


@pytest.mark.parametrize("parent_status", ["completed", "failed"])
def test_circuits_that_fail_at_ionq_leave_errors_beside_what_ran(
    fake: FakeIonQ, parent_status: str
) -> None:
    # Executions 1 (x q[0]) and 5 (theta = pi of the sweep) fail; IonQ may call the parent
    # job completed or failed: either way the task keeps the 11 that ran.
    fake.fail_circuits_of_next_job(
        1, 5, code="QuantumComputerError", message="trap reload", parent_status=parent_status
    )
    task = task_for("ionq_simulator", *(circuit for circuit, _ in TEN))

    _, outcome = run(task, ionq_at(fake))

    x_on_0, sweep = outcome.circuits[1], outcome.circuits[4]
    assert x_on_0.counts == [{}] and x_on_0.distributions == [{}]
    assert x_on_0.errors is not None and x_on_0.errors[0] is not None
    error = x_on_0.errors[0]
    assert (error["code"], error["provider_code"]) == ("provider_failed", "QuantumComputerError")
    assert "trap reload" in error["message"]
    assert sweep.counts == [{"00": 1000}, {}] and sweep.errors is not None
    assert sweep.errors[0] is None and sweep.errors[1] is not None
    assert outcome.circuits[0].errors is None and outcome.circuits[5].counts == [{"111": 1000}]
    nested = nest_results(outcome, with_parameters=True, with_observables=False)
    assert nested["errors"][1][0]["provider_code"] == "QuantumComputerError"
    assert nested["errors"][0] == [None]


def test_a_failed_measurement_group_blanks_its_parameter_set_of_every_observable(
    fake: FakeIonQ,
) -> None:
    observables = (ObservableSpec(("ZZ",), (1.0,)), ObservableSpec(("XX",), (1.0,)))
    circuit = CircuitTask(RY_CX, parameter_sets=((0.0,), (PI,)), observables=observables)
    fake.fail_circuits_of_next_job(3)  # set 1, group 1 (XX)

    _, outcome = run(task_for("ionq_simulator", circuit), ionq_at(fake))

    (result,) = outcome.circuits
    assert result.errors is not None and result.errors[0] is None and result.errors[1]
    assert result.expectation_values is not None and result.standard_errors is not None
    assert [row[0] for row in result.expectation_values] == [1.0, pytest.approx(0.0, abs=0.1)]
    assert all(math.isnan(row[1]) for row in result.expectation_values)
    assert all(math.isnan(row[1]) for row in result.standard_errors)


def test_results_are_read_per_child_job_where_ionq_gives_none_together(fake: FakeIonQ) -> None:
    fake.aggregate_results = False
    task = task_for("ionq_simulator", *(circuit for circuit, _ in TEN[4:6]))

    _, outcome = run(task, ionq_at(fake))

    assert outcome.circuits[0].counts == [{"00": 1000}, {"11": 1000}]
    assert outcome.circuits[1].counts == [{"111": 1000}]
    assert all(
        fake.requests_to("GET", f"/jobs/{child}/results/probabilities") for child in fake.children
    )


def test_when_every_circuit_fails_the_task_fails_with_ionqs_error(fake: FakeIonQ) -> None:
    fake.fail_next_jobs(1, code="QuantumComputerError", message="ions lost")
    task = task_for("ionq_aria_1", CircuitTask(BELL), CircuitTask(GHZ3))
    device = DEVICES["ionq_aria_1"]
    job = ionq_at(fake).submit(task, device, CREDENTIALS)

    with pytest.raises(ProviderError) as caught:
        ionq_at(fake).poll(task, device, job, CREDENTIALS)

    error = caught.value
    assert (error.code, error.provider_code) == ("provider_failed", "QuantumComputerError")
    assert "ions lost" in error.message


def test_a_task_past_ionqs_limits_is_split_and_one_failed_job_keeps_the_others(
    fake: FakeIonQ, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches, "MAX_CIRCUITS_PER_JOB", 5)
    fake.fail_next_jobs(1, code="QuantumComputerError")  # the first of the three jobs
    task = task_for("ionq_simulator", *(circuit for circuit, _ in TEN))

    job, outcome = run(task, ionq_at(fake))

    posts = fake.requests_to("POST", "/v0.4/jobs")
    assert [len(p.body["input"]["circuits"]) for p in posts] == [5, 5, 3] and len(job.ids) == 3
    assert job.data["jobs"] == [5, 5, 3] and fake.creates == 3
    # Executions 0-4: circuits 0-3 and the sweep's first set failed; the rest ran.
    assert [c.errors is not None for c in outcome.circuits[:4]] == [True] * 4
    sweep = outcome.circuits[4]
    assert sweep.errors is not None and sweep.errors[0] and sweep.errors[1] is None
    assert sweep.counts == [{}, {"11": 1000}]
    assert outcome.circuits[9].counts == [{"10": 1000}, {"01": 1000}, {"11": 1000}]


def test_a_job_past_ionqs_gate_limit_is_split(
    fake: FakeIonQ, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches, "MAX_GATES_PER_JOB", 4)
    task = task_for("ionq_simulator", *(circuit for circuit, _ in TEN[:4]))

    job, outcome = run(task, ionq_at(fake))

    posts = fake.requests_to("POST", "/v0.4/jobs")
    gates = [
        sum(len(c["circuit"]) for c in p.body["input"]["circuits"])
        if "circuits" in p.body["input"]
        else len(p.body["input"]["circuit"])
        for p in posts
    ]
    assert len(posts) == len(job.ids) > 1 and all(g <= 4 for g in gates)
    assert outcome.circuits[3].counts is not None and len(outcome.circuits[3].counts) == 1


def test_a_lost_answer_to_a_multicircuit_submit_reuses_the_job_not_its_children(
    fake: FakeIonQ, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its 13 children are listed before it (newer), over more pages than a lookup reads
    # for single jobs: the lookup reads one page more per page of children.
    monkeypatch.setattr(jobs, "LOOKUP_PAGE_SIZE", 2)
    monkeypatch.setattr(jobs, "LOOKUP_PAGES", 1)
    ionq = build(ProviderConfig(ionq_api_url=fake.url, call_timeout=1.5))
    task = task_for("ionq_simulator", *(circuit for circuit, _ in TEN), token="job-lost")
    device = DEVICES["ionq_simulator"]
    fake.lose_answer_to_next_submit()

    with pytest.raises(ProviderError):
        ionq.submit(task, device, CREDENTIALS)
    (created,) = fake.jobs
    assert len(fake.children) == EXECUTIONS  # listed too, with the parent's metadata

    job = ionq.submit(task, device, CREDENTIALS)

    assert job.ids == (created,) and fake.creates == 1


def test_a_job_recorded_with_one_ionq_job_per_execution_still_polls(
    fake: FakeIonQ, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Recorded before multi-circuit jobs: one id per execution and no "jobs" sizes.
    monkeypatch.setattr(batches, "MAX_CIRCUITS_PER_JOB", 1)
    task = task_for("ionq_simulator", *(circuit for circuit, _ in TEN[4:6]))
    device = DEVICES["ionq_simulator"]
    submitted = ionq_at(fake).submit(task, device, CREDENTIALS)
    data = {k: v for k, v in submitted.data.items() if k not in ("jobs", "group_shapes")}
    old = ProviderJob(submitted.provider, submitted.ids, data)

    outcome = ionq_at(fake).poll(task, device, old, CREDENTIALS)

    assert len(old.ids) == 3 and outcome is not None
    assert outcome.circuits[0].counts == [{"00": 1000}, {"11": 1000}]
    assert outcome.circuits[1].counts == [{"111": 1000}]


def test_cancelling_a_multicircuit_job_cancels_it_at_ionq(fake: FakeIonQ) -> None:
    fake.hold_jobs()
    task = task_for("ionq_forte_1", CircuitTask(BELL), CircuitTask(GHZ3))
    device = DEVICES["ionq_forte_1"]
    job = ionq_at(fake).submit(task, device, CREDENTIALS)
    assert ionq_at(fake).poll(task, device, job, CREDENTIALS) is None

    ionq_at(fake).cancel(device, job, CREDENTIALS)

    assert {child.status for child in fake.children.values()} == {"canceled"}
    with pytest.raises(ProviderError) as caught:
        ionq_at(fake).poll(task, device, job, CREDENTIALS)
    assert caught.value.code == "provider_cancelled"


# --- what a job cost --------------------------------------------------------------------------


def test_the_actual_cost_is_what_ionq_reports_for_the_job(fake: FakeIonQ) -> None:
    fake.report_cost(24.83)  # a contract rate: nothing the price table knows
    task = task_for("ionq_aria_1", *(circuit for circuit, _ in TEN))

    job, outcome = run(task, ionq_at(fake))

    assert fake.requests_to("GET", f"/v0.4/jobs/{job.ids[0]}/cost")
    assert outcome.cost == ActualCost(24.83, "reported", tasks=1, shots=1000 * EXECUTIONS)


def test_ionqs_list_price_charges_the_minimum_once_per_job(fake: FakeIonQ) -> None:
    task = task_for("ionq_aria_1", CircuitTask(BELL), CircuitTask(GHZ3), shots=100)

    _, outcome = run(task, ionq_at(fake))

    assert outcome.cost is not None and outcome.cost.source == "reported"
    assert outcome.cost.usd == round(LIST_PRICES["minimum"], 2)  # once, not twice


def test_without_ionqs_cost_the_price_table_prices_what_ran(
    fake: FakeIonQ, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.withhold_costs()
    task = task_for("ionq_forte_1", *(circuit for circuit, _ in TEN), shots=2000)

    _, outcome = run(task, ionq_at(fake))

    estimate = OFFLINE.estimate(task, DEVICES["ionq_forte_1"])
    assert outcome.cost == ActualCost(estimate.usd, "computed", tasks=1, shots=2000 * EXECUTIONS)
    # Split into two jobs, one of which fails as a whole: IonQ charges nothing for that one.
    monkeypatch.setattr(batches, "MAX_CIRCUITS_PER_JOB", 7)
    fake.fail_next_jobs(1)
    _, partial = run(task_for("ionq_forte_1", *(c for c, _ in TEN), token="split"), ionq_at(fake))
    minimum = load_prices()["entries"]["ionq:forte"]["minimum"]
    assert partial.cost is not None and partial.cost.source == "computed"
    assert partial.cost.tasks == 2 and partial.cost.shots == 1000 * (EXECUTIONS - 7)
    assert minimum <= partial.cost.usd < estimate.usd


def test_the_free_simulator_has_no_cost_and_is_not_asked(fake: FakeIonQ) -> None:
    _, outcome = run(task_for("ionq_simulator", CircuitTask(BELL)), ionq_at(fake))

    assert outcome.cost is None and not fake.requests_to("GET", "/cost")
