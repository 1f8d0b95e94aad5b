"""The executor's checkpoint: a restarted executor reads the log from where its board was kept,
not from the start, and still runs every open job exactly once."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import pytest

from qorch.adapters.executor import Executor
from qorch.adapters.executor.board import JOB_TOPICS
from qorch.adapters.executor.checkpoint import FORMAT, Checkpoints, encode, table_for
from qorch.adapters.vault import CredentialVault
from qorch.bootstrap import init_event_store, open_application
from qorch.domain.application import Qorch
from qorch.domain.execution import ProviderError
from qorch.domain.requests import RunRequest
from qorch.settings import Settings
from tests.adapters.test_store import POSTGRES_URL
from tests.conftest import BELL_QASM2, postgres_or_skip


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Qorch]:
    application = open_application(Settings(data_dir=tmp_path))
    yield application
    application.close()


class FakeWorker:
    """Notes the jobs it is handed and fails each at once, so that its outcome is recorded;
    a job in `hold` runs until its executor stops."""

    def __init__(self, hold: Iterable[UUID] = ()) -> None:
        self.handed: list[UUID] = []
        self.hold = set(hold)

    async def __call__(self, function: Callable[..., Any], *args: Any) -> Any:
        tasks = [arg for arg in args if hasattr(arg, "job_id")]
        if not tasks:
            return None  # warm-up
        job_id = UUID(tasks[0].job_id)
        self.handed.append(job_id)
        if job_id in self.hold:
            await anyio.sleep_forever()
        raise ProviderError("fake", "a fake worker runs nothing")


class Reads:
    """The positions of every notification read from the log from now on."""

    def __init__(self, app: Qorch, monkeypatch: pytest.MonkeyPatch) -> None:
        self.positions: list[int] = []
        select = app.recorder.select_notifications

        def counted(*args: Any, **kwargs: Any) -> Any:
            found = select(*args, **kwargs)
            self.positions.extend(notification.id for notification in found)
            return found

        monkeypatch.setattr(app.recorder, "select_notifications", counted)


def executor(app: Qorch, worker: FakeWorker, **options: Any) -> Executor:
    return Executor(
        app, concurrency=1, lease_seconds=5, poll_interval=0.02, run_in_worker=worker, **options
    )


async def run_until(executor: Executor, done: Callable[[], bool], seconds: float = 20) -> None:
    """Runs the executor until `done`, then stops it as a server stops it."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(executor.run)
        await wait_until(done, seconds)
        tg.cancel_scope.cancel()


async def wait_until(done: Callable[[], bool], seconds: float = 20) -> None:
    with anyio.move_on_after(seconds):
        while not done():
            await anyio.sleep(0.02)


def new_user(app: Qorch, name: str) -> tuple[UUID, str]:
    user_id, _ = app.register_user(name)
    return user_id, str(app.create_experiment(user_id, "exp").id)


def submit(app: Qorch, user_id: UUID, experiment_id: str, count: int) -> list[UUID]:
    request = RunRequest(experiment_id=experiment_id, circuits_qasm=[BELL_QASM2], shots=10)
    return [app.submit_job(user_id, request).id for _ in range(count)]


def all_final(app: Qorch, jobs: Iterable[UUID]) -> Callable[[], bool]:
    return lambda: all(app.find_job(job).status.is_final for job in jobs)  # type: ignore[union-attr]


def caught_up(executor: Executor, app: Qorch, jobs: Iterable[UUID]) -> Callable[[], bool]:
    """The jobs are final and the executor has read the log up to its head."""
    final = all_final(app, jobs)
    return lambda: final() and executor.follower.position >= head(app)


def events_of(app: Qorch, job_id: UUID) -> list[str]:
    return [event.topic.rpartition(".")[2] for event in app.recorder.select_events(job_id)]


def head(app: Qorch) -> int:
    return app.recorder.max_notification_id() or 0


@pytest.mark.anyio
async def test_a_restarted_executor_resumes_at_its_checkpoint_and_runs_each_open_job_once(
    app: Qorch, monkeypatch: pytest.MonkeyPatch
):
    ada, experiment = new_user(app, "ada")
    finished = submit(app, ada, experiment, 3)
    await run_until(executor(app, FakeWorker()), all_final(app, finished))

    # The executor stops while it runs one job and two more wait for its only slot.
    running, *waiting = submit(app, ada, experiment, 3)
    opened = head(app)
    worker = FakeWorker(hold=[running])
    stopped = executor(app, worker)
    await run_until(
        stopped,
        lambda: worker.handed == [running] and all(stopped.board.open[job].user for job in waiting),
    )
    checkpoint = stopped.checkpoints.saved
    assert checkpoint >= opened
    assert events_of(app, running)[-1] == "Released"  # recorded after the checkpoint
    late = submit(app, ada, experiment, 1)  # while no executor runs

    reads = Reads(app, monkeypatch)
    worker = FakeWorker()
    restarted = executor(app, worker)
    await run_until(restarted, all_final(app, [running, *waiting, *late]))

    assert sorted(worker.handed) == sorted([running, *waiting, *late])
    assert reads.positions and min(reads.positions) > checkpoint
    for job in [*finished, running, *waiting, *late]:
        assert events_of(app, job).count("Failed") == 1


@pytest.mark.anyio
async def test_a_job_whose_claimant_died_while_no_executor_ran_is_claimed_again(
    app: Qorch, monkeypatch: pytest.MonkeyPatch
):
    ada, experiment = new_user(app, "ada")
    (job,) = submit(app, ada, experiment, 1)
    claimant = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claimant_id = f"{socket.gethostname()}:{claimant.pid}:elsewhere"
        assert app.claim_job(job, claimant_id, time.time(), False, 3600) is not None
        watcher_worker = FakeWorker()
        watcher = executor(app, watcher_worker)
        await run_until(watcher, lambda: watcher.follower.position >= head(app))
        assert watcher.board.open[job].worker_id == claimant_id  # left to its living claimant
        assert not watcher_worker.handed
    finally:
        claimant.kill()
        claimant.wait()
    checkpoint = watcher.checkpoints.saved
    assert checkpoint == head(app)

    reads = Reads(app, monkeypatch)
    worker = FakeWorker()
    await run_until(executor(app, worker), all_final(app, [job]))

    assert worker.handed == [job]
    assert events_of(app, job).count("Claimed") == 2
    assert all(position > checkpoint for position in reads.positions)


@pytest.mark.anyio
async def test_events_of_no_job_recorded_after_the_last_jobs_do_not_hold_the_executor_back(
    app: Qorch, monkeypatch: pytest.MonkeyPatch
):
    ada, experiment = new_user(app, "ada")
    (job,) = submit(app, ada, experiment, 1)
    reads = Reads(app, monkeypatch)
    worker = FakeWorker()
    running = executor(app, worker)
    async with anyio.create_task_group() as tg:
        tg.start_soon(running.run)
        await wait_until(caught_up(running, app, [job]))
        for name in ("bob", "cy", "dee"):
            new_user(app, name)  # users and experiments: nothing the executor follows
        await wait_until(lambda: running.follower.position >= head(app))
        tg.cancel_scope.cancel()

    read = set(reads.positions)
    assert worker.handed == [job]
    assert running.checkpoints.saved == head(app)  # past the users, not at the job's last event
    # Only the job's events were read (those saved here may have been seen without a read).
    assert read <= {
        event.id for event in app.recorder.select_notifications(1, 99, topics=JOB_TOPICS)
    }


def damaged(kind: str, position: int) -> bytes:
    if kind == "unreadable":
        return b"\x00 not a checkpoint"
    if kind == "of a board with other fields":
        document = {"format": FORMAT, "position": position, "fields": ["worker_id"], "open": []}
        return zlib.compress(json.dumps(document).encode())
    return encode(position + 100, [], {})  # past the log's head: not this log's


@pytest.mark.anyio
@pytest.mark.parametrize(
    "kind", ["missing", "unreadable", "of a board with other fields", "past the head"]
)
async def test_without_a_usable_checkpoint_the_executor_reads_the_whole_log(
    app: Qorch, monkeypatch: pytest.MonkeyPatch, kind: str
):
    ada, experiment = new_user(app, "ada")
    jobs = submit(app, ada, experiment, 2)
    opened = head(app)
    table = table_for(app.recorder)
    assert table is not None
    if kind == "past the head":
        table.write(head(app) + 100, damaged(kind, head(app)))
    elif kind != "missing":
        table.write(head(app), damaged(kind, head(app)))

    reads = Reads(app, monkeypatch)
    worker = FakeWorker()
    restarted = executor(app, worker)
    await run_until(restarted, caught_up(restarted, app, jobs))

    assert sorted(worker.handed) == sorted(jobs)
    assert min(reads.positions) < opened
    stored = table.read()  # a good checkpoint replaced the one that could not be used
    assert stored is not None and stored[0] == restarted.checkpoints.saved == head(app)


@pytest.mark.anyio
async def test_credentials_left_held_by_a_crash_after_a_jobs_end_are_destroyed_at_restart(
    app: Qorch, tmp_path: Path
):
    ada, experiment = new_user(app, "ada")
    (job,) = submit(app, ada, experiment, 1)
    await run_until(executor(app, FakeWorker()), all_final(app, [job]))
    vault = CredentialVault(Settings(data_dir=tmp_path))
    vault.hold(job, {"token": "secret"})  # as if the process died before sweeping them

    await run_until(executor(app, FakeWorker(), vault=vault), lambda: not vault.held_jobs(), 5)

    assert vault.held_jobs() == []


@pytest.fixture
def postgres_settings(tmp_path: Path) -> Iterator[Settings]:
    connection = postgres_or_skip(POSTGRES_URL)
    schema = f"qorch_test_{uuid.uuid4().hex[:8]}"
    connection.execute(f"CREATE SCHEMA {schema}")
    try:
        settings = Settings(data_dir=tmp_path, database_url=f"{POSTGRES_URL}?schema={schema}")
        init_event_store(settings)
        yield settings
    finally:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")
        connection.close()


@pytest.mark.anyio
async def test_executors_sharing_a_postgresql_log_share_one_checkpoint_that_only_moves_forward(
    postgres_settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    one, other = open_application(postgres_settings), open_application(postgres_settings)
    try:
        ada, experiment = new_user(one, "ada")
        first = submit(one, ada, experiment, 1)
        behind = executor(one, FakeWorker())
        await run_until(behind, caught_up(behind, one, first))
        checkpoint = behind.checkpoints.saved
        assert checkpoint == head(one)

        second = submit(one, ada, experiment, 1)
        reads = Reads(other, monkeypatch)
        worker = FakeWorker()
        ahead = executor(other, worker)
        await run_until(ahead, caught_up(ahead, other, second))
        assert worker.handed == second
        assert min(reads.positions) > checkpoint

        # The first executor's board is older: written again, it does not move the log back.
        late_writer = Checkpoints(one)
        await late_writer.save(behind.board, checkpoint)
        table = table_for(one.recorder)
        assert table is not None
        stored = table.read()
        assert stored is not None and stored[0] == ahead.checkpoints.saved > checkpoint
    finally:
        one.close()
        other.close()
