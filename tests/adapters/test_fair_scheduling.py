"""Fair scheduling (issue 11, finding 4): one user's jobs never hold every local worker slot while
another user's job waits; jobs start round-robin across users, by priority within a user's own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import pytest

from qorch.adapters.executor import Executor
from qorch.adapters.quotas import Quotas
from qorch.adapters.scheduling import Candidate, fair_pick
from qorch.bootstrap import open_application, quotas_from
from qorch.domain.application import Qorch
from qorch.domain.execution import ProviderError
from qorch.domain.requests import RunRequest
from qorch.settings import Settings, settings_from_env
from tests.conftest import BELL_QASM2


def jobs_of(user: str, count: int, start: int = 0, priority: int = 0) -> list[Candidate]:
    return [Candidate(uuid.uuid4(), user, priority, start + i) for i in range(count)]


def users_of(picked: list[Candidate]) -> list[str]:
    return [c.user for c in picked]


def test_users_take_turns_whatever_the_order_they_submitted_in():
    a, b, c = jobs_of("a", 10, 0), jobs_of("b", 2, 100), jobs_of("c", 1, 200)
    picked = fair_pick(a + b + c, running={}, slots=5, per_user=0)
    assert users_of(picked) == ["a", "b", "c", "a", "b"]
    assert picked[0] == a[0] and picked[3] == a[1]  # a user's own jobs stay oldest first


def test_a_user_at_the_running_cap_gets_no_slot_while_another_user_waits():
    a, b = jobs_of("a", 10), jobs_of("b", 1, 50)
    assert users_of(fair_pick(a + b, running={"a": 1}, slots=1, per_user=1)) == ["b"]
    # Alone, a user still gets no more than the cap: a slot stays free for the next user.
    assert fair_pick(a, running={"a": 1}, slots=1, per_user=1) == []
    assert len(fair_pick(a, running={}, slots=3, per_user=2)) == 2
    assert len(fair_pick(a, running={}, slots=3, per_user=0)) == 3


def test_the_turn_passes_to_the_user_after_the_one_served_last():
    a, b, c = jobs_of("a", 3), jobs_of("b", 3), jobs_of("c", 3)
    assert users_of(fair_pick(a + b + c, {}, slots=1, per_user=0, after="a")) == ["b"]
    assert users_of(fair_pick(a + b + c, {}, slots=1, per_user=0, after="c")) == ["a"]
    assert users_of(fair_pick(a + c, {}, slots=2, per_user=0, after="b")) == ["c", "a"]


def test_priority_orders_a_users_own_jobs_but_never_jumps_the_turn_of_another_user():
    low = jobs_of("a", 3, 0)
    urgent = jobs_of("a", 1, 10, priority=5)
    other = jobs_of("b", 1, 5)
    picked = fair_pick(low + urgent + other, {}, slots=3, per_user=0, after="b")
    assert picked == [urgent[0], other[0], low[0]]


def test_quotas_come_from_the_environment():
    quotas = quotas_from(
        settings_from_env(
            {
                "QORCH_JOB_TIME_LIMIT": "90",
                "QORCH_JOB_TIME_LIMITS": "aer_simulator=5, fake_kolkata=7.5",
                "QORCH_JOB_MEMORY_LIMIT_MB": "512",
                "QORCH_JOB_MEMORY_LIMITS_MB": "aer_simulator_statevector=2048",
                "QORCH_MAX_RUNNING_PER_USER": "3",
                "QORCH_MAX_QUEUED_PER_USER": "7",
                "QORCH_SUBMIT_RATE": "0.5",
                "QORCH_SUBMIT_BURST": "4",
            }
        )
    )
    assert quotas.time_limit_for("aer_simulator") == 5
    assert quotas.time_limit_for("fake_kolkata") == 7.5
    assert quotas.time_limit_for("fake_torino") == 90
    assert quotas.memory_limit_mb_for("aer_simulator_statevector") == 2048
    assert quotas.memory_limit_mb_for("aer_simulator") == 512
    assert quotas.running_cap(8) == 3
    assert (quotas.max_queued_per_user, quotas.submit_rate, quotas.submit_burst) == (7, 0.5, 4)
    assert Quotas().running_cap(4) == 3 and Quotas().running_cap(1) == 1
    assert quotas.device_limits("ionq_aria_1", remote=True) == {
        "time_seconds": None,
        "memory_mb": None,
    }
    with pytest.raises(ValueError):
        quotas_from(settings_from_env({"QORCH_JOB_TIME_LIMITS": "aer_simulator"}))


# --- the executor itself, with a fake worker that only notes who started when ---


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Qorch]:
    application = open_application(Settings(data_dir=tmp_path))
    yield application
    application.close()


def submit(app: Qorch, user_id: UUID, experiment_id: str, count: int) -> list[UUID]:
    request = RunRequest(experiment_id=experiment_id, circuits_qasm=[BELL_QASM2], shots=10)
    return [app.submit_job(user_id, request).id for _ in range(count)]


def new_user(app: Qorch, name: str) -> tuple[UUID, str]:
    user_id, _ = app.register_user(name)
    return user_id, str(app.create_experiment(user_id, "exp").id)


async def run_until(executor: Executor, done: Callable[[], bool], seconds: float) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(executor.run)
        with anyio.move_on_after(seconds):
            while not done():
                await anyio.sleep(0.02)
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_late_users_job_starts_before_an_earlier_users_backlog(app: Qorch):
    ada, ada_experiment = new_user(app, "ada")
    bob, bob_experiment = new_user(app, "bob")
    flood = submit(app, ada, ada_experiment, 6)
    (bell,) = submit(app, bob, bob_experiment, 1)
    owner = {job: "ada" for job in flood} | {bell: "bob"}
    started: list[str] = []
    running: set[str] = set()
    most_running_of_ada = 0

    async def worker(function: Callable[..., Any], *args: Any) -> Any:
        nonlocal most_running_of_ada
        tasks = [arg for arg in args if hasattr(arg, "job_id")]
        if not tasks:
            return None  # warm-up
        task = tasks[0]
        job = UUID(task.job_id)
        started.append(owner[job])
        running.add(task.job_id)
        most_running_of_ada = max(
            most_running_of_ada, sum(owner[UUID(j)] == "ada" for j in running)
        )
        await anyio.sleep(0.2)
        running.discard(task.job_id)
        raise ProviderError("fake", "a fake worker runs nothing")

    executor = Executor(
        app, concurrency=2, lease_seconds=5, poll_interval=0.02, run_in_worker=worker
    )
    await run_until(executor, lambda: len(started) == 7 and not running, 20)
    assert started.index("bob") <= 1, started  # among the first two, not seventh
    assert most_running_of_ada == 1  # one slot of the two stays free for another user
    assert sorted(started) == ["ada"] * 6 + ["bob"]


@pytest.mark.anyio
async def test_learning_the_owners_of_a_thousand_open_jobs_is_cheap(app: Qorch):
    """The executor decodes only each open job's first event, once, in a worker thread."""
    ada, experiment = new_user(app, "ada")
    request = RunRequest(experiment_id=experiment, circuits_qasm=[BELL_QASM2], shots=10)
    for _ in range(1000):
        app.submit_job(ada, request)
    executor = Executor(app, concurrency=1, lease_seconds=5, poll_interval=0.05)
    executor.track(app.recorder.select_notifications(start=None, limit=10_000))
    assert len(executor.board.open) == 1000
    started = time.perf_counter()
    await executor.board.learn_owners()
    seconds = time.perf_counter() - started
    assert all(state.user == str(ada) for state in executor.board.open.values())

    class NoTasks:
        def start_soon(self, *args: Any) -> None:
            pass

    passes = 50
    dispatch_started = time.perf_counter()
    for _ in range(passes):
        executor.running.clear()
        executor.dispatch_once(NoTasks(), time.time())  # type: ignore[arg-type]
    per_pass = (time.perf_counter() - dispatch_started) / passes
    print(
        f"\nowners of 1000 open jobs learnt in {seconds * 1000:.0f} ms (once per job); "
        f"a dispatch pass over them takes {per_pass * 1000:.2f} ms"
    )
    assert seconds < 2.0
    assert per_pass < 0.05
