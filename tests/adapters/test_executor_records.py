"""A local job's worker call answers what the job records — its results nested and encoded in
the worker process — alone or in a batch; the executor records that text as it is, a long one
read back from the file the worker left it in (and removed)."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import pytest

from qorch.adapters.executor import Executor, recorded
from qorch.adapters.executor.recorded import Spilled
from qorch.adapters.worker_limits import call_with_memory_limit
from qorch.domain.application import Qorch
from qorch.domain.job import Job, JobStatus
from qorch.domain.requests import RunRequest
from qorch.domain.results import OutcomeRecord
from tests.conftest import BELL_QASM2


class Worker:
    """Runs worker calls in this process and keeps what each answered."""

    def __init__(self) -> None:
        self.answers: list[Any] = []

    async def __call__(self, function: Callable[..., Any], *args: Any) -> Any:
        if function is call_with_memory_limit:  # no memory limit on the test process itself
            function, *rest = args[3:]
            args = tuple(rest)
        answer = function(*args)
        self.answers.append(answer)
        return answer


async def run_until_final(app: Qorch, executor: Executor, jobs: list[UUID]) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(executor.run)
        deadline = time.monotonic() + 60
        while not all(app.find_job(job).status.is_final for job in jobs):  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the jobs did not finish"
            await anyio.sleep(0.05)
        tg.cancel_scope.cancel()


def records(answers: list[Any]) -> list[OutcomeRecord | Spilled]:
    """The answers of job runs (a batch answers (ok, answer) per job; warm-ups answer None)."""
    found = []
    for answer in answers:
        if isinstance(answer, list):
            found += [value for _, value in answer]
        elif answer is not None:
            found.append(answer)
    return found


def spilled_files() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("qorch-results-*"))


@pytest.mark.anyio
@pytest.mark.parametrize("batch_size", [1, 8])
@pytest.mark.parametrize("spill", [False, True])
async def test_a_local_job_answers_its_encoded_results_and_they_are_recorded_as_they_are(
    app: Qorch, batch_size: int, spill: bool, monkeypatch: pytest.MonkeyPatch
):
    if spill:
        monkeypatch.setattr(recorded, "SPILL_CHARACTERS", 0)
    files_before = spilled_files()
    user, _ = app.register_user("ada")
    experiment = str(app.create_experiment(user, "records").id)
    request = RunRequest(
        experiment_id=experiment,
        circuits_qasm=[BELL_QASM2],
        shots=100,
        options={"seed_simulator": 11},
    )
    jobs = [app.submit_job(user, request).id for _ in range(3)]
    worker = Worker()
    executor = Executor(
        app,
        concurrency=1,
        lease_seconds=5,
        poll_interval=0.05,
        run_in_worker=worker,
        batch_size=batch_size,
    )

    await run_until_final(app, executor, jobs)

    assert any(isinstance(a, list) for a in worker.answers) is (batch_size > 1)
    answered = records(worker.answers)
    assert len(answered) == 3
    assert all(isinstance(a, Spilled if spill else OutcomeRecord) for a in answered)
    assert spilled_files() <= files_before  # each spilled text read back, then removed
    made = [a.record if isinstance(a, Spilled) else a for a in answered]
    assert all((m.results_json is None) is spill for m in made)  # spilled: the text went by file
    texts_recorded = []
    for job_id in jobs:
        assert app.find_job(job_id).status is JobStatus.DONE  # type: ignore[union-attr]
        *_, executed = app.repository.event_store.get(job_id)
        assert isinstance(executed, Job.Executed)
        texts_recorded.append(executed.results_json)
        (counts,) = json.loads(executed.results_json)["counts"]
        assert sum(counts.values()) == 100 and set(counts) <= {"00", "11"}
    if not spill:
        assert sorted(texts_recorded) == sorted(m.results_json or "" for m in made)


@pytest.mark.anyio
async def test_a_results_file_no_one_read_back_is_removed_when_the_executor_stops(app: Qorch):
    # A run cancelled after its worker wrote the file never reads it back.
    executor = Executor(app, concurrency=1, lease_seconds=5, poll_interval=0.05)
    seen: list[Path] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(executor.run)
        while executor.runner.spill_dir is None:
            await anyio.sleep(0.01)
        directory = Path(executor.runner.spill_dir)
        left = directory / "never-read.json"
        left.write_text("{}")
        seen = sorted(directory.iterdir())
        tg.cancel_scope.cancel()
    assert seen == [left]
    assert not directory.exists()


@pytest.mark.anyio
async def test_the_results_directory_is_removed_even_when_stopping_fails(
    app: Qorch, monkeypatch: pytest.MonkeyPatch
):
    executor = Executor(app, concurrency=1, lease_seconds=5, poll_interval=0.05)

    async def store_gone(*args: object) -> None:
        raise RuntimeError("the store was closed first")

    monkeypatch.setattr(executor.checkpoints, "save", store_gone)
    with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="closed first")):  # noqa: PT012
        async with anyio.create_task_group() as tg:
            tg.start_soon(executor.run)
            await anyio.sleep(0.2)
            tg.cancel_scope.cancel()
    assert executor.runner.spill_dir is not None
    assert not Path(executor.runner.spill_dir).exists()
