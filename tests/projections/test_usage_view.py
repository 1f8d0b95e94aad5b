"""The usage view and each job's costs, built from the events a log hands the projector: a run
counts on the UTC day it ended, with what its provider billed; estimates come from the budget's
reservation (or a dry run); a replay, however batched, rebuilds the same rows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qorch.domain.application import Qorch
from qorch.domain.budget import Budget
from qorch.domain.execution import ActualCost, CircuitOutcome, ExecutionOutcome
from qorch.domain.job import Job
from qorch.domain.requests import RunRequest
from qorch.projections.database import ViewDatabase
from qorch.projections.projector import Projector
from qorch.projections.usage import usage_rows
from tests.conftest import BELL_QASM2
from tests.projections.test_job_views import LEASE, NOW, Views

BILL = ActualCost(usd=1.25, source="reported", tasks=1, shots=500)
BELL = {"quantum_results": [[{"00": 0.5, "11": 0.5}]]}


@pytest.fixture
def views() -> Iterator[Views]:
    views = Views()
    yield views
    views.db.close()


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


def rows(views: Views, user_id: Any = None) -> list[dict[str, Any]]:
    return usage_rows(views.db, str(user_id or views.user_id), "2000-01-01", "2999-12-31")


def ran(views: Views, job: Job, worker: str, cost: ActualCost | None = None) -> None:
    job.claim(worker, NOW, LEASE, claimant_dead=False)
    job.record_results(worker, BELL, cost)
    views.apply(job)


def test_a_paid_run_shows_its_cost_on_the_job_and_counts_in_the_days_usage(views: Views):
    job = views.submit(device_id="ionq_aria_1", shots=500)
    assert (views.job(job)["actual_cost"], views.job(job)["estimated_usd"]) == (None, None)

    ran(views, job, "w1", BILL)

    assert views.job(job)["actual_cost"] == BILL.as_dict()
    assert rows(views) == [
        {
            "day": today(),
            "device_id": "ionq_aria_1",
            "jobs": 1,
            "tasks": 1,
            "shots": 500,
            "estimated_usd": 0.0,
            "actual_usd": 1.25,
        }
    ]


def test_runs_on_a_free_simulator_count_the_shots_they_ran_and_cost_nothing(views: Views):
    for shots in (100, 300):
        ran(views, views.submit(shots=shots), "w1")

    [row] = rows(views)
    assert (row["device_id"], row["jobs"], row["tasks"], row["shots"]) == (
        "aer_simulator",
        2,
        0,
        400,
    )
    assert (row["estimated_usd"], row["actual_usd"]) == (0.0, 0.0)


def test_the_budgets_reservation_is_the_runs_estimate_and_each_run_of_a_restart_counts(
    views: Views,
):
    budget = Budget(user_id=views.user_id)
    budget.set_limit(100.0, "month", "ionq")
    job = views.submit(device_id="ionq_aria_1", shots=500)
    budget.reserve(job.id, 2.5, "ionq", time.time())
    views.apply(budget)
    assert views.job(job)["estimated_usd"] == 2.5

    ran(views, job, "w1", BILL)
    job.restart()
    views.apply(job)
    assert (views.job(job)["estimated_usd"], views.job(job)["actual_cost"]) == (None, None)
    budget.settle(job.id, 1.25)
    budget.reserve(job.id, 2.0, "ionq", time.time())
    views.apply(budget)
    job.claim("w2", NOW + 100, LEASE, claimant_dead=False)
    job.record_failure(
        "w2",
        {"code": "provider_failed", "message": "x"},
        ActualCost(usd=0.75, source="computed", tasks=1, shots=200),
    )
    views.apply(job)

    assert views.job(job)["actual_cost"]["usd"] == 0.75
    [row] = rows(views)
    assert (row["jobs"], row["tasks"], row["shots"]) == (2, 2, 700)
    assert (row["estimated_usd"], row["actual_usd"]) == (4.5, 2.0)


def test_a_dry_run_shows_its_estimate_and_is_not_usage(views: Views):
    job = views.submit(device_id="ionq_aria_1", dry_run=True)
    job.claim("w1", NOW, LEASE, claimant_dead=False)
    estimate = {
        "native": {"amount": 3.0, "unit": "s"},
        "converted": {"amount": 0.97, "unit": "USD"},
    }
    job.record_estimate("w1", estimate)
    views.apply(job)

    assert views.job(job)["estimated_usd"] == 0.97
    assert rows(views) == []


def test_a_cancelled_job_never_ran_and_is_not_usage(views: Views):
    job = views.submit(device_id="ionq_aria_1")
    job.cancel("not needed")
    views.apply(job)
    assert rows(views) == [] and views.job(job)["actual_cost"] is None


def test_each_user_sees_only_their_own_usage(views: Views):
    ran(views, views.submit(device_id="ionq_aria_1"), "w1", BILL)
    mine = rows(views)
    other = Views()
    try:
        assert rows(other, other.user_id) == []
        assert rows(views, other.user_id) == []
    finally:
        other.db.close()
    assert len(mine) == 1


# --- rebuilt from the log: the same rows however the log is cut into batches ---


def test_the_usage_view_rebuilt_in_any_batches_equals_the_live_one(app: Qorch, tmp_path: Path):
    live = ViewDatabase(tmp_path / "live.sqlite")
    follow = Projector(app, live)
    costs = [0.0, 0.2, 0.0, 1e-6, 0.0]
    for number in range(2):
        user_id, _ = app.register_user(f"user-{number}")
        experiment = str(app.create_experiment(user_id, "usage").id)
        for step, usd in enumerate(costs):
            request = RunRequest(
                experiment_id=experiment,
                circuits_qasm=[BELL_QASM2],
                device_id="ionq_aria_1" if step % 2 else "aer_simulator",
                options={"ionq_api_key": "k"} if step % 2 else {},
            )
            job_id = app.submit_job(user_id, request).id
            assert app.claim_job(job_id, "w", time.time(), False, LEASE) is not None
            bell = CircuitOutcome(distributions=[{"00": 1.0}], counts=[{"00": 1024}])
            cost = ActualCost(usd=usd, source="reported", tasks=1, shots=1024) if step % 2 else None
            app.record_results(job_id, "w", ExecutionOutcome([bell], cost=cost))
            follow.rebuild()

    dumps = []
    for page_size in (1, 3, 5000):
        views = ViewDatabase(tmp_path / f"by-{page_size}.sqlite")
        Projector(app, views).rebuild(page_size)
        dumps.append(views.dump()["job_usage"])
        views.close()
    assert dumps[0] == dumps[1] == dumps[2] == live.dump()["job_usage"]
    assert len(dumps[0]) == 4  # two users, two devices, one day
    paid = [row for row in dumps[0] if row[2] == "ionq_aria_1"]
    assert [row[-1] for row in paid] == [200_001, 200_001]  # micro-dollars
