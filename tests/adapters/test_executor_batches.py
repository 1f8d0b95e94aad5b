"""Small jobs of one user run together: claimed together, run in one worker call, recorded
together; anything else still runs alone, and a batch that fails as a whole loses nothing."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import anyio
import pytest

from qorch.adapters.executor import Executor
from qorch.adapters.executor.workers import run_each
from qorch.adapters.worker_limits import call_with_memory_limit
from qorch.domain.application import Qorch
from qorch.domain.job import Job, JobStatus
from qorch.domain.requests import RunRequest
from tests.conftest import BELL_QASM2

LOOPING = (
    'OPENQASM 3.0; include "stdgates.inc"; qubit[1] q; bit[1] c; '
    "for uint i in [0:2] { x q[0]; } c[0] = measure q[0];"
)


class Worker:
    """Runs worker calls in this process and notes which jobs each call ran."""

    def __init__(self, fail_batches: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.fail_batches = fail_batches

    async def __call__(self, function: Callable[..., Any], *args: Any) -> Any:
        if function is call_with_memory_limit:  # no memory limit on the test process itself
            function, *rest = args[3:]
            args = tuple(rest)
        jobs = [task.job_id for task in _tasks(args)]
        if jobs:
            self.calls.append(jobs)
        if function is run_each and self.fail_batches:
            self.fail_batches -= 1
            raise anyio.BrokenWorkerProcess("the worker process died")
        return function(*args)


def _tasks(args: tuple[Any, ...]) -> list[Any]:
    found = []
    for arg in args:
        if hasattr(arg, "job_id") and hasattr(arg, "circuits"):
            found.append(arg)
        elif isinstance(arg, list):
            found += [a for _, call in arg for a in call if hasattr(a, "circuits")]
    return found


def submit(app: Qorch, user: UUID, count: int, source: str = BELL_QASM2) -> list[UUID]:
    experiment = str(app.create_experiment(user, "batch").id)
    request = RunRequest(experiment_id=experiment, circuits_qasm=[source], shots=100)
    return [app.submit_job(user, request).id for _ in range(count)]


async def run_until_final(app: Qorch, executor: Executor, jobs: list[UUID]) -> None:
    def all_final() -> bool:
        return all(app.find_job(job).status.is_final for job in jobs)  # type: ignore[union-attr]

    async with anyio.create_task_group() as tg:
        tg.start_soon(executor.run)
        deadline = time.monotonic() + 60
        while not all_final():
            assert time.monotonic() < deadline, "the jobs did not finish"
            await anyio.sleep(0.05)
        tg.cancel_scope.cancel()


def executor_for(app: Qorch, worker: Worker, batch_size: int = 8) -> Executor:
    return Executor(
        app,
        concurrency=1,
        lease_seconds=5,
        poll_interval=0.05,
        run_in_worker=worker,
        batch_size=batch_size,
        quotas=None,
    )


def results_of(app: Qorch, job: UUID) -> dict[str, Any]:
    *_, executed = app.repository.event_store.get(job)
    assert isinstance(executed, Job.Executed)
    results: dict[str, Any] = json.loads(executed.results_json)
    return results


def events_of(app: Qorch, job: UUID) -> list[str]:
    return [type(e).__qualname__ for e in app.repository.event_store.get(job)]


@pytest.mark.anyio
async def test_twenty_bell_jobs_run_in_a_few_worker_calls_each_with_its_own_results(app: Qorch):
    ada, _ = app.register_user("ada")
    jobs = submit(app, ada, 20)
    worker = Worker()

    await run_until_final(app, executor_for(app, worker), jobs)

    assert sorted(job for call in worker.calls for job in call) == sorted(map(str, jobs))
    assert len(worker.calls) <= 4  # at most 8 to a call, not 20 calls
    assert max(len(call) for call in worker.calls) > 1
    for job_id in jobs:
        job = app.find_job(job_id)
        assert job is not None and job.status is JobStatus.DONE
        (counts,) = results_of(app, job_id)["counts"]
        assert sum(counts.values()) == 100 and set(counts) <= {"00", "11"}
        assert events_of(app, job_id) == ["Job.Submitted", "Job.Claimed", "Job.Executed"]


@pytest.mark.anyio
async def test_a_batch_whose_worker_dies_is_run_again_one_job_at_a_time(app: Qorch):
    ada, _ = app.register_user("ada")
    jobs = submit(app, ada, 5)
    worker = Worker(fail_batches=1)

    await run_until_final(app, executor_for(app, worker), jobs)

    assert len(worker.calls[0]) == 5  # the batch that died
    assert all(len(call) == 1 for call in worker.calls[1:])  # then each alone
    for job_id in jobs:
        assert app.find_job(job_id).status is JobStatus.DONE  # type: ignore[union-attr]
        assert events_of(app, job_id) == [
            "Job.Submitted",
            "Job.Claimed",
            "Job.Released",
            "Job.Claimed",
            "Job.Executed",
        ]


@pytest.mark.anyio
async def test_looping_circuits_and_other_users_jobs_never_join_a_batch(app: Qorch):
    ada, _ = app.register_user("ada")
    bob, _ = app.register_user("bob")
    loops = submit(app, ada, 3, LOOPING)
    adas = submit(app, ada, 4)
    bobs = submit(app, bob, 4)
    worker = Worker()
    executor = executor_for(app, worker)
    executor.per_user = 0  # this test is about who shares a call, not about fair shares

    await run_until_final(app, executor, loops + adas + bobs)

    owner = {str(job): "loop" for job in loops}
    owner |= {str(job): "ada" for job in adas} | {str(job): "bob" for job in bobs}
    for call in worker.calls:
        kinds = {owner[job] for job in call}
        assert len(kinds) == 1, call  # one user's Bell jobs, or one looping job alone
        assert "loop" not in kinds or len(call) == 1
    for job_id in loops:
        job = app.find_job(job_id)
        assert job is not None and job.status is JobStatus.DONE
        assert results_of(app, job_id)["counts"] == [{"1": 100}]
    assert any(len(call) > 1 for call in worker.calls)


def test_a_jobs_claim_says_how_big_it_is(app: Qorch) -> None:
    ada, _ = app.register_user("ada")
    (bell,) = submit(app, ada, 1)
    (loop,) = submit(app, ada, 1, LOOPING)
    bell_claim = app.claim_job(bell, "w", time.time(), False, 5)
    loop_claim = app.claim_job(loop, "w", time.time(), False, 5)
    assert bell_claim is not None and loop_claim is not None
    assert (bell_claim.qubits, bell_claim.gates, bell_claim.control_flow) == (2, 2, False)
    assert loop_claim.control_flow
    assert isinstance(app.find_job(bell), Job)


@pytest.mark.anyio
async def test_a_store_failure_while_claiming_a_batch_postpones_it_and_the_executor_goes_on(
    app: Qorch, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada, _ = app.register_user("ada")
    jobs = submit(app, ada, 6)
    together = app.together
    failures = [sqlite3.OperationalError("database is locked")]

    def failing_once(calls: Any) -> Any:
        if failures:
            raise failures.pop()
        return together(calls)

    monkeypatch.setattr(app, "together", failing_once)
    worker = Worker()

    await run_until_final(app, executor_for(app, worker), jobs)

    assert not failures  # the batch's claims did fail once
    for job_id in jobs:
        assert app.find_job(job_id).status is JobStatus.DONE  # type: ignore[union-attr]
        assert events_of(app, job_id) == ["Job.Submitted", "Job.Claimed", "Job.Executed"]
