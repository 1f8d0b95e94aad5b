"""What a run on a paid device cost: recorded with the event that ends the run, checked to its
types, cleared for the next run, and read as None from logs recorded before costs existed."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from qorch.domain.application import Qorch
from qorch.domain.costs import InvalidCost
from qorch.domain.execution import ActualCost, CircuitOutcome, ExecutionOutcome, ProviderError
from qorch.domain.job import Job, JobStatus
from qorch.domain.requests import RunRequest
from tests.domain.factories import a_job
from tests.domain.test_commands import QPU, Holder, ada_with_an_experiment, check_options, facts_of

IONQ_BILL = ActualCost(usd=1.25, source="reported", tasks=1, shots=500)
IBM_BILL = ActualCost(usd=3.2, source="computed", tasks=2, shots=2000, seconds=2.0)
BELL = {"quantum_results": [[{"00": 0.5, "11": 0.5}]]}


@pytest.fixture
def app() -> Qorch:
    """The application on the in-memory store, with one paid QPU (tests/domain/test_commands)."""
    return Qorch(
        describe_circuit=facts_of,
        find_device={QPU.id: QPU}.get,
        check_options=check_options,
        credentials=Holder(),
    )


def running_job() -> Job:
    job = a_job(device_id="ionq_aria_1")
    job.claim("w1", 1000.0, 30.0, claimant_dead=False)
    job.collect_events()
    return job


def test_a_run_records_what_the_provider_billed_with_its_results():
    job = running_job()

    job.record_results("w1", BELL, IONQ_BILL)

    [executed] = job.collect_events()
    assert isinstance(executed, Job.Executed)
    expected = {"usd": 1.25, "source": "reported", "tasks": 1, "shots": 500, "seconds": None}
    assert executed.cost == expected
    assert job.actual_cost == expected and job.status is JobStatus.DONE


def test_a_run_on_a_free_simulator_records_no_cost():
    job = running_job()

    job.record_results("w1", BELL)

    [executed] = job.collect_events()
    assert isinstance(executed, Job.Executed) and executed.cost is None
    assert job.actual_cost is None


def test_a_run_that_failed_after_the_provider_billed_it_records_the_bill():
    job = running_job()

    job.record_failure("w1", {"code": "provider_failed", "message": "x"}, IBM_BILL)

    [failed] = job.collect_events()
    assert isinstance(failed, Job.Failed)
    assert failed.cost == {
        "usd": 3.2,
        "source": "computed",
        "tasks": 2,
        "shots": 2000,
        "seconds": 2.0,
    }
    assert job.actual_cost == failed.cost and job.status is JobStatus.ERROR


def test_a_rejected_job_never_ran_and_costs_nothing():
    job = a_job()
    job.reject({"code": "unknown_device"})
    assert job.collect_events()[-1].cost is None  # type: ignore[attr-defined]
    assert job.actual_cost is None


def test_a_restart_runs_again_from_no_cost_and_the_first_bill_stays_in_the_log():
    job = running_job()
    job.record_results("w1", BELL, IONQ_BILL)
    job.restart()
    assert job.actual_cost is None
    job.claim("w2", 2000.0, 30.0, claimant_dead=False)
    job.record_results("w2", BELL, ActualCost(usd=0.5, source="reported", tasks=1, shots=100))

    costs = [e.cost for e in job.collect_events() if isinstance(e, Job.Executed)]
    assert [cost["usd"] for cost in costs if cost] == [1.25, 0.5]
    assert job.actual_cost is not None and job.actual_cost["usd"] == 0.5


@pytest.mark.parametrize(
    ("cost", "named"),
    [
        (ActualCost(usd=math.nan, source="reported"), "usd"),
        (ActualCost(usd=math.inf, source="reported"), "usd"),
        (ActualCost(usd=-1.0, source="reported"), "usd"),
        (ActualCost(usd="1.0", source="reported"), "usd"),  # type: ignore[arg-type]
        (ActualCost(usd=True, source="reported"), "usd"),
        (ActualCost(usd=1.0, source="guessed"), "source"),  # type: ignore[arg-type]
        (ActualCost(usd=1.0, source="reported", tasks=True), "tasks"),
        (ActualCost(usd=1.0, source="reported", tasks=1.5), "tasks"),  # type: ignore[arg-type]
        (ActualCost(usd=1.0, source="reported", shots=-3), "shots"),
        (ActualCost(usd=1.0, source="reported", shots=2**62), "shots"),
        (ActualCost(usd=1.0, source="computed", seconds=math.nan), "seconds"),
        ({"usd": 1.0, "source": "reported"}, "ActualCost"),
    ],
)
def test_a_cost_that_is_not_well_typed_is_refused_and_nothing_is_recorded(cost: Any, named: str):
    job = running_job()

    with pytest.raises(InvalidCost, match=named):
        job.record_results("w1", BELL, cost)
    with pytest.raises(InvalidCost, match=named):
        job.record_failure("w1", {"code": "provider_failed", "message": "x"}, cost)

    assert job.collect_events() == []
    assert job.status is JobStatus.RUNNING and job.actual_cost is None


def test_the_worker_records_the_cost_its_provider_reported(app: Qorch):
    ada, experiment = ada_with_an_experiment(app)
    request = RunRequest(
        experiment, circuits_qasm=["bell"], device_id=QPU.id, options={"ionq_api_key": "k"}
    )
    job_id = app.submit_job(ada, request).id
    assert app.claim_job(job_id, "w", time.time(), claimant_dead=False, lease_seconds=30)

    outcome = ExecutionOutcome(
        [CircuitOutcome(counts=[{"00": 5}], distributions=[{"00": 1.0}])], cost=IONQ_BILL
    )
    assert app.record_results(job_id, "w", outcome)

    job = app.find_job(job_id)
    assert job is not None and job.actual_cost == IONQ_BILL.as_dict()


def test_a_worker_whose_every_execution_failed_still_records_the_bill(app: Qorch):
    ada, experiment = ada_with_an_experiment(app)
    request = RunRequest(
        experiment, circuits_qasm=["bell"], device_id=QPU.id, options={"ionq_api_key": "k"}
    )
    job_id = app.submit_job(ada, request).id
    assert app.claim_job(job_id, "w", time.time(), claimant_dead=False, lease_seconds=30)
    error = ProviderError("provider_failed", "the QPU lost its ions").as_dict()

    outcome = ExecutionOutcome([CircuitOutcome(counts=[{}], errors=[error])], cost=IBM_BILL)
    assert app.record_results(job_id, "w", outcome)

    job = app.find_job(job_id)
    assert job is not None and job.status is JobStatus.ERROR
    assert job.actual_cost == IBM_BILL.as_dict()


@pytest.mark.parametrize(
    "outcome",
    [
        ExecutionOutcome(
            [CircuitOutcome(counts=[{"00": 5}], distributions=[{"00": 1.0}])],
            cost=ActualCost(usd=-1.0, source="reported"),
        ),
        ExecutionOutcome([CircuitOutcome(counts=[{"00": 5}])]),  # no distributions
    ],
    ids=["negative cost", "no distributions"],
)
def test_an_answer_the_worker_cannot_record_fails_the_job_instead_of_running_it_again(
    app: Qorch, outcome: ExecutionOutcome
):
    ada, experiment = ada_with_an_experiment(app)
    request = RunRequest(
        experiment, circuits_qasm=["bell"], device_id=QPU.id, options={"ionq_api_key": "k"}
    )
    job_id = app.submit_job(ada, request).id
    assert app.claim_job(job_id, "w", time.time(), claimant_dead=False, lease_seconds=30)

    assert app.record_results(job_id, "w", outcome)

    job = app.find_job(job_id)
    assert job is not None and job.status is JobStatus.ERROR and job.actual_cost is None
    failed = list(app.repository.event_store.get(job_id))[-1]
    assert isinstance(failed, Job.Failed) and failed.error["code"] == "provider_failed"
    assert "could not be recorded" in failed.error["message"]


@pytest.mark.parametrize("kind", [Job.Executed, Job.Failed])
def test_an_ending_recorded_before_costs_existed_reads_with_no_cost(kind: type):
    """Version 1 of Executed and Failed had no `cost`: upcast, they read with cost None."""
    assert kind.class_version == 2  # type: ignore[attr-defined]
    app: Application[Any] = Application()
    job = a_job(device_id="ionq_aria_1")
    job.claim("w1", 1000.0, 30.0, claimant_dead=False)
    if kind is Job.Executed:
        job.record_results("w1", BELL, IONQ_BILL)
    else:
        job.record_failure("w1", {"code": "boom", "message": "x"}, IONQ_BILL)
    stored = [app.mapper.to_stored_event(event) for event in job.collect_events()]
    state = json.loads(stored[-1].state)
    assert state.pop("class_version") == 2 and state.pop("cost") is not None
    stored[-1] = StoredEvent(
        stored[-1].originator_id,
        stored[-1].originator_version,
        stored[-1].topic,
        json.dumps(state).encode(),
    )
    app.recorder.insert_events(stored)

    loaded: Job = app.repository.get(job.id)
    last = list(app.repository.event_store.get(job.id))[-1]

    assert isinstance(last, kind) and last.cost is None  # type: ignore[attr-defined]
    assert loaded.actual_cost is None and loaded.status.is_final
