"""A provider's work fails for some circuits or parameter sets: the job keeps what ran, with an
error in place of each failure, nested like the values; it fails only when nothing ran."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import to_json

from qorch.bootstrap import open_application
from qorch.domain.application import Qorch
from qorch.domain.execution import CircuitOutcome, ExecutionOutcome
from qorch.domain.job import Job, JobStatus
from qorch.domain.requests import RunRequest
from qorch.domain.results import failed_executions, nest_results, total_failure
from qorch.settings import Settings
from tests.conftest import BELL_QASM2

LOST = {"code": "provider_failed", "message": "task 2 FAILED: device went offline"}
RECORDED = {"code": "provider_failed", "message": "task 2 FAILED: device went offline"}


def distributions(sets: int, failed: Collection[int] = ()) -> CircuitOutcome:
    return CircuitOutcome(
        distributions=[{} if p in failed else {"0": 0.75, "1": 0.25} for p in range(sets)],
        counts=[{} if p in failed else {"0": 3, "1": 1} for p in range(sets)],
        errors=[LOST if p in failed else None for p in range(sets)] if failed else None,
    )


def expectations(observables: int, sets: int, failed: Collection[int] = ()) -> CircuitOutcome:
    def value(o: int, p: int) -> float:
        return math.nan if p in failed else float(10 * o + p)

    return CircuitOutcome(
        expectation_values=[[value(o, p) for p in range(sets)] for o in range(observables)],
        standard_errors=[[value(o, p) / 100 for p in range(sets)] for o in range(observables)],
        errors=[LOST if p in failed else None for p in range(sets)] if failed else None,
    )


def statevectors(sets: int, failed: Collection[int] = ()) -> CircuitOutcome:
    return CircuitOutcome(
        statevectors=[([], []) if p in failed else ([1.0, 0.0], [0.0, 0.0]) for p in range(sets)],
        probabilities=[{} if p in failed else {"0": 1.0} for p in range(sets)],
        errors=[LOST if p in failed else None for p in range(sets)] if failed else None,
    )


def strict_json(results: dict[str, Any]) -> Any:
    """What a client that refuses NaN reads."""
    return json.loads(json.dumps(results, allow_nan=False))


# --- distributions ---


def test_a_failed_circuit_without_parameters_keeps_the_others_and_says_where():
    outcome = ExecutionOutcome([distributions(1), distributions(1, {0}), distributions(1)])
    results = strict_json(nest_results(outcome, with_parameters=False, with_observables=False))

    assert results["quantum_results"] == [{"0": 0.75, "1": 0.25}, {}, {"0": 0.75, "1": 0.25}]
    assert results["counts"] == [{"0": 3, "1": 1}, {}, {"0": 3, "1": 1}]
    assert results["uncertainty"][1] == {} and set(results["uncertainty"][0]) == {"0", "1"}
    assert results["errors"] == [None, RECORDED, None]
    assert failed_executions(results["errors"], with_parameters=False, with_observables=False) == 1


def test_a_failed_parameter_set_is_in_place_among_the_sets_of_its_circuit():
    outcome = ExecutionOutcome([distributions(3, {1}), distributions(2)])
    results = strict_json(nest_results(outcome, with_parameters=True, with_observables=False))

    assert results["quantum_results"][0][1] == {} and results["counts"][0][1] == {}
    assert results["quantum_results"][0][0] == results["quantum_results"][0][2] != {}
    assert results["errors"] == [[None, RECORDED, None], [None, None]]
    assert failed_executions(results["errors"], with_parameters=True, with_observables=False) == 1


# --- expectation values: NaN placeholders become null ---


def test_failed_expectation_values_are_null_under_every_observable():
    outcome = ExecutionOutcome([expectations(2, 3, {2}), expectations(1, 3, {0, 1})])
    results = strict_json(nest_results(outcome, with_parameters=True, with_observables=True))

    assert results["quantum_results"] == [
        [[0.0, 1.0, None], [10.0, 11.0, None]],
        [[None, None, 2.0]],
    ]
    assert results["uncertainty"][0] == [[0.0, 0.01, None], [0.1, 0.11, None]]
    assert results["errors"] == [
        [[None, None, RECORDED], [None, None, RECORDED]],
        [[RECORDED, RECORDED, None]],
    ]
    # one execution per (circuit, parameter set), whatever the number of observables
    assert failed_executions(results["errors"], with_parameters=True, with_observables=True) == 3


def test_a_failed_circuit_with_observables_and_no_parameters():
    outcome = ExecutionOutcome([expectations(2, 1, {0}), expectations(2, 1)])
    results = strict_json(nest_results(outcome, with_parameters=False, with_observables=True))

    assert results["quantum_results"] == [[None, None], [0.0, 10.0]]
    assert results["uncertainty"] == [[None, None], [0.0, 0.1]]
    assert results["errors"] == [[RECORDED, RECORDED], [None, None]]
    assert failed_executions(results["errors"], with_parameters=False, with_observables=True) == 1


# --- statevectors ---


@pytest.mark.parametrize("with_parameters", [False, True])
def test_a_failed_statevector_is_an_empty_pair(with_parameters: bool):
    sets = 2 if with_parameters else 1
    outcome = ExecutionOutcome([statevectors(sets, {sets - 1}), statevectors(sets)])
    results = strict_json(
        nest_results(outcome, with_parameters=with_parameters, with_observables=False)
    )

    def at(values: list[Any], circuit: int) -> Any:
        return values[circuit][sets - 1] if with_parameters else values[circuit]

    assert at(results["quantum_results"], 0) == [[], []]
    assert at(results["quantum_results"], 1) == [[1.0, 0.0], [0.0, 0.0]]
    assert at(results["probabilities"], 0) == {}
    assert at(results["errors"], 0) == RECORDED and at(results["errors"], 1) is None
    assert (
        failed_executions(
            results["errors"], with_parameters=with_parameters, with_observables=False
        )
        == 1
    )


# --- nothing failed: exactly what was recorded before partial results existed ---


@pytest.mark.parametrize(
    ("circuit", "with_parameters", "with_observables"),
    [
        (lambda: distributions(1), False, False),
        (lambda: distributions(3), True, False),
        (lambda: expectations(2, 1), False, True),
        (lambda: expectations(2, 3), True, True),
        (lambda: statevectors(1), False, False),
        (lambda: statevectors(2), True, False),
    ],
)
def test_a_job_without_failures_records_what_it_always_did(
    circuit: Any, with_parameters: bool, with_observables: bool
):
    plain: CircuitOutcome = circuit()
    marked: CircuitOutcome = circuit()
    sets = len(plain.distributions or plain.statevectors or (plain.expectation_values or [[]])[0])
    marked.errors = [None] * sets  # a provider may say "nothing failed" explicitly
    nesting = {"with_parameters": with_parameters, "with_observables": with_observables}

    recorded = nest_results(ExecutionOutcome([plain]), **nesting)
    assert "errors" not in recorded
    assert to_json(nest_results(ExecutionOutcome([marked]), **nesting)) == to_json(recorded)
    assert failed_executions(None, **nesting) == 0


# --- everything failed: the job fails with the first error ---


def test_only_a_job_none_of_whose_executions_ran_is_a_failure():
    assert total_failure(ExecutionOutcome([distributions(2, {0}), distributions(1)])) is None
    assert total_failure(ExecutionOutcome([distributions(1)])) is None

    one = total_failure(ExecutionOutcome([distributions(1, {0})]))
    assert one == {**RECORDED, "retryable": False}
    every = total_failure(ExecutionOutcome([distributions(2, {0, 1}), expectations(1, 1, {0})]))
    assert every is not None and every["code"] == "provider_failed"
    assert every["message"] == f"all 3 executions failed; the first: {RECORDED['message']}"


# --- what a provider hands over is checked ---


def test_a_provider_error_is_recorded_with_only_its_known_fields():
    odd = {**LOST, "provider_code": "FAILED", "raw": {"secret": "x"}, "message": "m" * 5000}
    outcome = ExecutionOutcome([CircuitOutcome(distributions=[{}], counts=[{}], errors=[odd])])
    [error] = nest_results(outcome, with_parameters=False, with_observables=False)["errors"]
    assert set(error) == {"code", "message", "provider_code"} and len(error["message"]) == 2000


@pytest.mark.parametrize(
    ("errors", "problem"),
    [
        ([{"code": "x"}], "must be"),
        (["boom"], "must be"),
        ([None, None], "2 errors for 1 parameter sets"),
    ],
)
def test_malformed_provider_errors_are_refused(errors: list[Any], problem: str):
    outcome = ExecutionOutcome([CircuitOutcome(distributions=[{}], counts=[{}], errors=errors)])
    with pytest.raises(ValueError, match=problem):
        nest_results(outcome, with_parameters=False, with_observables=False)


# --- recorded by the worker's command ---


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Qorch]:
    application = open_application(Settings(data_dir=tmp_path))
    yield application
    application.close()


def claimed_job(app: Qorch, circuits: int) -> Job:
    user_id, _ = app.register_user("ada")
    experiment = app.create_experiment(user_id, "exp")
    request = RunRequest(experiment_id=str(experiment.id), circuits_qasm=[BELL_QASM2] * circuits)
    recorded = app.submit_job(user_id, request)
    assert app.claim_job(recorded.id, "w", time.time(), False, 30) is not None
    job: Job = app.repository.get(recorded.id)
    return job


def test_a_partial_outcome_is_recorded_done_with_its_errors(app: Qorch):
    job = claimed_job(app, 3)
    outcome = ExecutionOutcome([distributions(1), distributions(1, {0}), distributions(1)])

    assert app.record_results(job.id, "w", outcome)

    job = app.repository.get(job.id)
    assert job.status is JobStatus.DONE
    [*_, executed] = app.repository.event_store.get(job.id)
    assert isinstance(executed, Job.Executed)
    assert json.loads(executed.results_json)["errors"] == [None, RECORDED, None]


def test_an_outcome_where_everything_failed_is_recorded_as_an_error(app: Qorch):
    job = claimed_job(app, 2)
    outcome = ExecutionOutcome([distributions(1, {0}), distributions(1, {0})])

    assert app.record_results(job.id, "w", outcome)

    job = app.repository.get(job.id)
    assert job.status is JobStatus.ERROR
    [*_, failed] = app.repository.event_store.get(job.id)
    assert isinstance(failed, Job.Failed)
    assert failed.error["code"] == "provider_failed" and failed.error["retryable"] is False
    assert failed.error["message"].startswith("all 2 executions failed")
