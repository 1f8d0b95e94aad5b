"""The jobs view of a job whose provider work partly failed: it says so, with a count, and a
restart forgets it; answers built from views projected before partial results existed still
carry the flag."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qorch.domain.execution import CircuitOutcome, ExecutionOutcome
from qorch.domain.job import Job
from qorch.domain.results import nest_results
from qorch.http.presenters import present_job, status_context
from qorch.projections import jobs
from tests.domain.factories import a_job
from tests.projections.test_job_views import LEASE, NOW, Views

FAILED = {"code": "provider_failed", "message": "task FAILED"}


@pytest.fixture
def views() -> Iterator[Views]:
    views = Views()
    yield views
    views.db.close()


def sweep_of_three(failed: set[int]) -> ExecutionOutcome:
    """One circuit, three parameter sets; the sets in `failed` did not run."""
    return ExecutionOutcome(
        [
            CircuitOutcome(
                distributions=[{} if p in failed else {"0": 1.0} for p in range(3)],
                counts=[{} if p in failed else {"0": 10} for p in range(3)],
                errors=[FAILED if p in failed else None for p in range(3)],
            )
        ]
    )


def run_to_done(views: Views, job: Job, outcome: ExecutionOutcome) -> dict:
    job.claim("w1", NOW, LEASE, claimant_dead=False)
    job.record_results("w1", nest_results(outcome, with_parameters=True, with_observables=False))
    views.apply(job)
    return views.job(job)


def a_sweep(views: Views) -> Job:
    job = a_job(
        user_id=views.user_id,
        experiment_id=views.experiment.id,
        inputs_json=Job.encode_inputs([[[0.1], [0.2], [0.3]]], None),
        has_parameters=True,
    )
    views.apply(job)
    return job


def test_a_job_that_kept_some_results_says_partial_with_how_many_failed(views: Views):
    job = a_sweep(views)
    assert (views.job(job)["partial"], views.job(job)["failed_executions"]) == (False, 0)

    doc = run_to_done(views, job, sweep_of_three({1}))

    assert (doc["status"], doc["partial"], doc["failed_executions"]) == ("Done", True, 1)
    results = jobs.get_results(views.db, str(job.id))
    assert results is not None and results["errors"] == [[None, FAILED, None]]
    context = status_context(present_job(doc, results))
    assert "Partial results: 1 execution(s)" in context
    assert "errors[0][1]: provider_failed: task FAILED" in context


def test_a_job_where_everything_ran_is_not_partial(views: Views):
    doc = run_to_done(views, a_sweep(views), sweep_of_three(set()))

    assert (doc["status"], doc["partial"], doc["failed_executions"]) == ("Done", False, 0)
    assert "Partial" not in status_context(present_job(doc, jobs.get_results(views.db, doc["id"])))


def test_a_restart_forgets_that_the_last_run_was_partial(views: Views):
    job = a_sweep(views)
    run_to_done(views, job, sweep_of_three({0, 2}))
    assert views.job(job)["failed_executions"] == 2

    job.restart()
    views.apply(job)

    assert (views.job(job)["partial"], views.job(job)["failed_executions"]) == (False, 0)


def test_a_view_projected_before_partial_results_existed_reads_as_not_partial(views: Views):
    job = a_sweep(views)
    doc = run_to_done(views, job, sweep_of_three(set()))
    del doc["partial"], doc["failed_executions"]  # as such a document was written

    answer = present_job(doc, jobs.get_results(views.db, str(job.id)))

    assert (answer["partial"], answer["failed_executions"], answer["errors"]) == (False, 0, None)
