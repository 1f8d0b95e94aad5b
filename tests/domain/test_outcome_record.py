"""A worker process answers what the job records (`OutcomeRecord`): its results already nested
and encoded as JSON text. Recorded, it is the same event, byte for byte, as recording the
provider's outcome itself; a record that cannot be recorded fails the job instead."""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import to_json

from qorch.bootstrap import open_application
from qorch.domain.application import Qorch
from qorch.domain.execution import ActualCost, CircuitOutcome, ExecutionOutcome
from qorch.domain.job import Job, JobStatus
from qorch.domain.requests import RunRequest
from qorch.domain.results import OutcomeRecord, nest_results, record_of
from qorch.settings import Settings
from tests.conftest import BELL_QASM2

RY = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float a;\nqubit[1] q;\nbit[1] c;\n'
RY += "ry(a) q[0];\nc[0] = measure q[0];\n"

SAMPLED = CircuitOutcome(
    distributions=[{"0": 0.75, "1": 0.25}, {"0": 1 / 3, "1": 2 / 3}],
    counts=[{"0": 3, "1": 1}, {"0": 1, "1": 2}],
    transpiled={"qubits": 1, "depth": 2},
)
ESTIMATED = CircuitOutcome(
    expectation_values=[[0.5, -0.25]], standard_errors=[[0.1, 1e-5]], transpiled={"qubits": 1}
)
PARTIAL = CircuitOutcome(
    distributions=[{}, {"0": 0.5, "1": 0.5}],
    counts=[{}, {"0": 2, "1": 2}],
    errors=[{"code": "provider_failed", "message": "lost", "provider_code": "E1"}, None],
)
SHAPES: dict[str, tuple[ExecutionOutcome, bool, bool]] = {
    "a sweep's distributions": (ExecutionOutcome([SAMPLED], {"shots": 4}), True, False),
    "one distribution": (ExecutionOutcome([SAMPLED]), False, False),
    "expectation values": (ExecutionOutcome([ESTIMATED]), True, True),
    "a partial sweep": (ExecutionOutcome([PARTIAL]), True, False),
}


@pytest.mark.parametrize("name", SHAPES)
def test_a_record_holds_the_results_encoded_as_the_job_always_recorded_them(name: str):
    outcome, with_parameters, with_observables = SHAPES[name]
    nesting = {"with_parameters": with_parameters, "with_observables": with_observables}

    record = pickle.loads(pickle.dumps(record_of(outcome, **nesting)))  # from a worker process

    assert record.error is None
    assert record.results_json == to_json(nest_results(outcome, **nesting)).decode()


def test_a_record_of_an_outcome_where_nothing_ran_holds_the_error_and_the_cost():
    bill = ActualCost(usd=0.3, source="reported", tasks=1, shots=10)
    failed = CircuitOutcome(distributions=[{}], counts=[{}], errors=[{"code": "x", "message": "m"}])

    record = record_of(
        ExecutionOutcome([failed], cost=bill), with_parameters=False, with_observables=False
    )

    assert record.results_json is None and record.cost == bill
    assert record.error == {"code": "x", "message": "m", "retryable": False}


def test_an_answer_that_cannot_be_encoded_is_a_record_of_the_provider_failing():
    outcome = ExecutionOutcome([SAMPLED], {"handle": object()})

    record = record_of(outcome, with_parameters=True, with_observables=False)

    assert record.results_json is None and record.error is not None
    assert record.error["code"] == "provider_failed"


# --- recorded by the worker's command ---


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Qorch]:
    application = open_application(Settings(data_dir=tmp_path))
    yield application
    application.close()


def claimed_sweep(app: Qorch) -> Job:
    user_id, _ = app.register_user("ada")
    experiment = app.create_experiment(user_id, "exp")
    request = RunRequest(
        experiment_id=str(experiment.id), circuits_qasm=[RY], parameters=[[[0.1], [math.pi]]]
    )
    recorded = app.submit_job(user_id, request)
    claim = app.claim_job(recorded.id, "w", time.time(), False, 30)
    assert claim is not None and (claim.with_parameters, claim.with_observables) == (True, False)
    job: Job = app.repository.get(recorded.id)
    return job


def last_event(app: Qorch, job: Job) -> Any:
    *_, last = app.repository.event_store.get(job.id)
    return last


def test_a_record_is_recorded_as_the_outcome_itself_would_be(tmp_path: Path):
    outcome = ExecutionOutcome([SAMPLED], {"shots": 4})
    recorded: list[str] = []
    for name, answer in (
        ("outcome", outcome),
        ("record", record_of(outcome, with_parameters=True, with_observables=False)),
    ):
        application = open_application(Settings(data_dir=tmp_path / name))
        try:
            job = claimed_sweep(application)
            assert application.record_results(job.id, "w", answer)
            assert application.repository.get(job.id).status is JobStatus.DONE
            executed = last_event(application, job)
            assert isinstance(executed, Job.Executed)
            recorded.append(executed.results_json)
        finally:
            application.close()

    assert recorded[0] == recorded[1]


def test_a_record_made_for_another_nesting_fails_the_job(app: Qorch):
    job = claimed_sweep(app)
    outcome = ExecutionOutcome([SAMPLED])

    record = record_of(outcome, with_parameters=False, with_observables=False)
    assert app.record_results(job.id, "w", record)

    failed = last_event(app, job)
    assert isinstance(failed, Job.Failed) and failed.error["code"] == "provider_failed"


@pytest.mark.parametrize("results_json", [b'{"quantum_results":[]}', "[]", "", None])
def test_results_recorded_as_anything_but_a_json_object_text_fail_the_job(
    app: Qorch, results_json: Any
):
    job = claimed_sweep(app)
    record = OutcomeRecord(results_json, with_parameters=True)

    assert app.record_results(job.id, "w", record)

    failed = last_event(app, job)
    assert isinstance(failed, Job.Failed) and failed.error["code"] == "provider_failed"


def test_a_record_is_only_recorded_while_the_claim_is_held(app: Qorch):
    job = claimed_sweep(app)
    record = record_of(ExecutionOutcome([SAMPLED]), with_parameters=True, with_observables=False)

    assert not app.record_results(job.id, "another worker", record)
    assert app.repository.get(job.id).status is JobStatus.RUNNING


def test_a_bell_job_without_parameters_claims_without_levels(app: Qorch):
    user_id, _ = app.register_user("ada")
    experiment = app.create_experiment(user_id, "exp")
    request = RunRequest(experiment_id=str(experiment.id), circuits_qasm=[BELL_QASM2])
    claim = app.claim_job(app.submit_job(user_id, request).id, "w", time.time(), False, 30)
    assert claim is not None and (claim.with_parameters, claim.with_observables) == (False, False)
