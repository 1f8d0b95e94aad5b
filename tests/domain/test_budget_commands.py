"""Budgets through the application's commands, on the in-memory event store with fake ports: an
operator sets a budget, a user's runs on paid devices reserve their estimate in the job's own
save, concurrent submits cannot overspend, and ended jobs give back or spend what they held."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from qorch.domain.application import Qorch, Submit
from qorch.domain.budget import Budget
from qorch.domain.devices import Device
from qorch.domain.errors import BudgetExceeded, NotFound, RequestError
from qorch.domain.execution import (
    ActualCost,
    CircuitOutcome,
    CostEstimate,
    ExecutionOutcome,
    ExecutionTask,
    ProviderError,
    ProviderJob,
)
from qorch.domain.job import JobStatus
from qorch.domain.requests import RunRequest
from tests.domain.test_commands import Holder, check_options, facts_of

FORTE = Device(
    "forte",
    "braket",
    "IonQ",
    "Forte",
    qubits=4,
    simulator=False,
    remote=True,
    credentials=("key",),
    price_key="braket:ionq_forte",
)
ARIA = Device(
    "aria",
    "ionq",
    "IonQ",
    "Aria",
    qubits=4,
    simulator=False,
    remote=True,
    credentials=("key",),
    price_key="ionq:aria",
)
SIMULATOR = Device("sim", "local", "tests", "Simulator", qubits=4, simulator=True)
ONE_JOB = 1.10
"""A one-circuit, 10-shot job on FORTE: Braket's per-task price plus 10 shots at $0.08."""


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Priced:
    """Forte's price model per circuit (one task each); counts what it was asked to price.
    A device named 'broken' cannot be estimated."""

    def __init__(self) -> None:
        self.tasks: list[ExecutionTask] = []
        self.lock = threading.Lock()

    def __call__(self, device: Device, task: ExecutionTask) -> CostEstimate:
        with self.lock:
            self.tasks.append(task)
        if any(c.source == "wide" for c in task.circuits):
            raise ProviderError("provider_rejected", "circuits[0]: too wide", field="circuits[0]")
        usd = len(task.circuits) * (0.30 + task.shots * 0.08)
        return CostEstimate(seconds=1.0, usd=round(usd, 6), circuits=[])


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2026-03-15T12:00:00"))


@pytest.fixture
def priced() -> Priced:
    return Priced()


@pytest.fixture
def app(clock: Clock, priced: Priced) -> Qorch:
    devices = {device.id: device for device in (FORTE, ARIA, SIMULATOR)}
    return Qorch(
        describe_circuit=facts_of,
        find_device=devices.get,
        check_options=check_options,
        credentials=Holder(),
        estimate_cost=priced,
        clock=clock,
    )


def ada(app: Qorch) -> tuple[UUID, Callable[..., Any]]:
    """Ada and a way to submit a run: 10 shots of one circuit on FORTE unless told otherwise."""
    user_id, _ = app.register_user("ada")
    experiment = str(app.create_experiment(user_id, "paid").id)

    def submit(device: str = "forte", shots: int = 10, **request: Any) -> UUID:
        run = RunRequest(
            experiment,
            circuits_qasm=request.pop("circuits_qasm", ["bell"]),
            device_id=device,
            shots=shots,
            options={"key": "secret"} if device != "sim" else {},
            **request,
        )
        return app.submit_job(user_id, run).id

    return user_id, submit


def log_size(app: Qorch) -> int:
    return app.recorder.max_notification_id() or 0


def budget_events(app: Qorch, user_id: UUID) -> list[str]:
    events = app.repository.event_store.get(Budget.create_id(user_id))
    return [type(event).__name__ for event in events]


def test_an_80_dollar_run_on_a_10_dollar_budget_is_refused_and_nothing_is_recorded(app: Qorch):
    user_id, submit = ada(app)
    app.set_budget(user_id, 10)
    before = log_size(app)
    assert isinstance(app.credentials, Holder)

    with pytest.raises(BudgetExceeded) as refused:
        submit(shots=1000)

    assert refused.value.estimate_usd == 80.30 and refused.value.left_usd == 10.0
    assert "estimated at $80.30" in refused.value.message
    assert log_size(app) == before
    assert app.credentials.held == {}


def test_twenty_concurrent_submits_on_a_budget_of_ten_accept_exactly_ten(app: Qorch):
    user_id, submit = ada(app)
    app.set_budget(user_id, 10 * ONE_JOB)
    start = threading.Barrier(20)

    def one() -> str:
        start.wait()
        try:
            submit()
        except BudgetExceeded:
            return "refused"
        return "accepted"

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: one(), range(20)))

    assert answers.count("accepted") == 10 and answers.count("refused") == 10
    [row] = app.budget_status(user_id)
    assert row["reserved_usd"] == pytest.approx(10 * ONE_JOB) and row["left_usd"] == 0.0
    budget: Budget = app.repository.get(Budget.create_id(user_id))
    assert len(budget.open) == 10  # each for a job that was recorded
    assert {app.find_job(job_id) is not None for job_id in budget.open} == {True}


def test_cancelling_a_job_before_it_ran_gives_its_reservation_back(app: Qorch):
    user_id, submit = ada(app)
    app.set_budget(user_id, ONE_JOB)
    first = submit()
    with pytest.raises(BudgetExceeded):
        submit()

    app.cancel_job(user_id, str(first))

    assert budget_events(app, user_id)[-1] == "Released"
    second = submit()
    job = app.find_job(second)
    assert job is not None and job.status is JobStatus.QUEUED


def test_a_user_without_a_budget_and_a_run_on_a_free_device_are_never_blocked_nor_estimated(
    app: Qorch, priced: Priced
):
    user_id, submit = ada(app)
    submit(shots=100_000)
    app.set_budget(user_id, 0)
    submit(device="sim", shots=100_000)
    submit(dry_run=True)  # a dry run is the estimate itself: it costs nothing

    assert priced.tasks == []
    with pytest.raises(BudgetExceeded):
        submit()
    assert app.budget_status(UUID(int=1)) == []  # nobody's budget


def test_a_provider_budget_counts_only_that_provider(app: Qorch, priced: Priced):
    user_id, submit = ada(app)
    app.set_budget(user_id, ONE_JOB, provider="braket")
    submit()
    for _ in range(3):
        submit(device="aria")  # IonQ is not limited: not even estimated
    with pytest.raises(BudgetExceeded) as refused:
        submit()

    assert refused.value.provider == "braket"
    assert [task.device_id for task in priced.tasks] == ["forte", "forte"]
    [row] = app.budget_status(user_id)
    assert (row["provider"], row["reserved_usd"]) == ("braket", ONE_JOB)


def test_a_monthly_budget_starts_again_with_the_utc_calendar_month(app: Qorch, clock: Clock):
    user_id, submit = ada(app)
    app.set_budget(user_id, ONE_JOB, period="month")
    clock.now = at("2026-03-31T23:59:59")
    submit()
    with pytest.raises(BudgetExceeded) as refused:
        submit()
    assert refused.value.period_key == "2026-03"

    clock.now = at("2026-04-01T00:00:00")
    submit()

    [april] = app.budget_status(user_id)
    assert (april["period_key"], april["reserved_usd"], april["left_usd"]) == ("2026-04", 1.1, 0)
    [march] = app.budget_status(user_id, now=at("2026-03-31T12:00:00"))
    assert (march["period_key"], march["reserved_usd"]) == ("2026-03", 1.1)


def claim(app: Qorch, job_id: UUID) -> None:
    assert app.claim_job(job_id, "worker", 0.0, claimant_dead=False, lease_seconds=1e12)


def test_a_job_that_ran_is_spent_at_its_estimate_and_settled_once(app: Qorch):
    user_id, submit = ada(app)
    app.set_budget(user_id, 3 * ONE_JOB)
    ran = submit()
    claim(app, ran)
    app.record_provider_job(ran, "worker", ProviderJob("braket", ("task-1",)))
    outcome = ExecutionOutcome([CircuitOutcome(counts=[{"00": 10}], distributions=[{"00": 1.0}])])
    assert app.record_results(ran, "worker", outcome)

    [row] = app.budget_status(user_id)  # counted as spent before the budget records it
    assert (row["reserved_usd"], row["spent_usd"]) == (0.0, ONE_JOB)
    assert "Settled" not in budget_events(app, user_id)

    submit()  # the next save that touches the budget settles the job that ended
    submit()
    assert budget_events(app, user_id).count("Settled") == 1
    [row] = app.budget_status(user_id)
    assert (row["reserved_usd"], row["spent_usd"], row["left_usd"]) == (
        pytest.approx(2 * ONE_JOB),
        ONE_JOB,
        0.0,
    )


def test_a_job_whose_provider_reported_its_cost_is_spent_at_that_cost(app: Qorch):
    user_id, submit = ada(app)
    app.set_budget(user_id, 2 * ONE_JOB)
    ran = submit()
    claim(app, ran)
    app.record_provider_job(ran, "worker", ProviderJob("braket", ("task-1",)))
    cost = ActualCost(usd=0.62, source="reported", tasks=1, shots=10)
    outcome = ExecutionOutcome(
        [CircuitOutcome(counts=[{"00": 10}], distributions=[{"00": 1.0}])], cost=cost
    )
    assert app.record_results(ran, "worker", outcome)

    submit()
    [row] = app.budget_status(user_id)
    assert (row["spent_usd"], row["reserved_usd"]) == (0.62, ONE_JOB)
    assert row["left_usd"] == pytest.approx(2 * ONE_JOB - ONE_JOB - 0.62)


def test_a_job_that_failed_before_reaching_its_provider_costs_nothing_after_it_the_estimate(
    app: Qorch,
):
    user_id, submit = ada(app)
    app.set_budget(user_id, 2 * ONE_JOB)
    never_sent, sent = submit(), submit()
    claim(app, never_sent)
    claim(app, sent)
    app.record_provider_job(sent, "worker", ProviderJob("braket", ("task-1",)))
    for job_id in (never_sent, sent):
        assert app.record_failure(job_id, "worker", {"code": "provider_failed", "message": "x"})

    submit()  # the one freed by the failure before submission
    with pytest.raises(BudgetExceeded):
        submit()
    [row] = app.budget_status(user_id)
    assert (row["reserved_usd"], row["spent_usd"]) == (ONE_JOB, ONE_JOB)


def test_a_restart_on_a_paid_device_reserves_again(app: Qorch):
    user_id, submit = ada(app)
    app.set_budget(user_id, ONE_JOB)
    job_id = submit()
    app.cancel_job(user_id, str(job_id))
    app.restart_job(user_id, str(job_id), {"key": "secret"})
    [row] = app.budget_status(user_id)
    assert row["reserved_usd"] == ONE_JOB

    app.cancel_job(user_id, str(job_id))
    submit()  # takes what the cancel gave back
    with pytest.raises(BudgetExceeded):
        app.restart_job(user_id, str(job_id), {"key": "secret"})
    job = app.find_job(job_id)
    assert job is not None and job.status is JobStatus.CANCELLED


def test_an_idempotent_submit_reserves_once(app: Qorch):
    user_id, _ = ada(app)
    experiment = str(app.create_experiment(user_id, "keyed").id)
    app.set_budget(user_id, ONE_JOB)
    run = RunRequest(experiment, circuits_qasm=["bell"], device_id="forte", shots=10)
    run = RunRequest(**{**run.__dict__, "options": {"key": "secret"}})
    first, repeated = app.submit_job_once(user_id, run, Submit("explicit:k", "body", 0.0))
    again, repeated_again = app.submit_job_once(user_id, run, Submit("explicit:k", "body", 0.0))

    assert (repeated, repeated_again, again.id) == (False, True, first.id)
    with pytest.raises(BudgetExceeded):
        app.submit_job_once(user_id, run, Submit("explicit:other", "body", 0.0))


def test_a_run_that_cannot_be_estimated_is_refused_naming_the_field(app: Qorch):
    user_id, submit = ada(app)
    app.set_budget(user_id, 100)
    before = log_size(app)
    with pytest.raises(RequestError) as refused:
        submit(circuits_qasm=["wide"])
    assert (refused.value.field, refused.value.message) == ("circuits[0]", "too wide")
    assert log_size(app) == before


def test_only_known_users_get_a_budget_and_a_cleared_budget_blocks_nothing(app: Qorch):
    user_id, submit = ada(app)
    with pytest.raises(NotFound):
        app.set_budget(UUID(int=7), 10)
    with pytest.raises(RequestError):
        app.set_budget(user_id, -5)
    app.set_budget(user_id, 0)
    with pytest.raises(BudgetExceeded):
        submit()

    app.clear_budget(user_id)

    submit()
    assert app.budget_status(user_id) == []
