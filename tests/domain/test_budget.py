"""The Budget aggregate alone: an operator's limits, and reservations made, settled and released
against them, per provider and per UTC calendar month."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from eventsourcing.application import Application

from qorch.domain.budget import Budget, month_of
from qorch.domain.errors import BudgetExceeded, Conflict, RequestError


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


MARCH = at("2026-03-15T12:00:00")


def a_budget(usd: float, period: str = "total", provider: str | None = None) -> Budget:
    budget = Budget(user_id=uuid4())
    budget.set_limit(usd, period, provider)
    return budget


def test_reservations_are_accepted_until_the_limit_and_the_next_one_is_refused_with_the_figures():
    budget = a_budget(3.30)
    for _ in range(3):
        budget.reserve(uuid4(), 1.10, "braket", MARCH)  # 3 x 1.10 is 3.3000000000000003

    with pytest.raises(BudgetExceeded) as refused:
        budget.reserve(uuid4(), 0.01, "braket", MARCH)
    error = refused.value
    assert (error.estimate_usd, error.left_usd, error.limit_usd) == (0.01, 0.0, 3.30)
    assert (error.period, error.period_key, error.provider) == ("total", "total", None)
    assert "$0.01" in error.message and "$0.00 of $3.30 on all providers in total" in error.message
    assert len(budget.open) == 3


def test_an_80_dollar_estimate_on_a_10_dollar_budget_names_both():
    budget = a_budget(10, "month")
    with pytest.raises(BudgetExceeded) as refused:
        budget.reserve(uuid4(), 80.30, "braket", MARCH)
    assert "estimated at $80.30" in refused.value.message
    assert "$10.00 of $10.00 on all providers this month (2026-03, UTC)" in refused.value.message
    assert budget.open == {}


def test_a_settled_job_counts_what_it_cost_and_a_released_one_nothing():
    budget = a_budget(5)
    ran, cancelled = uuid4(), uuid4()
    budget.reserve(ran, 2.0, "ionq", MARCH)
    budget.reserve(cancelled, 2.0, "ionq", MARCH)

    budget.settle(ran, 1.25)
    budget.release(cancelled)

    [row] = budget.status(MARCH)
    assert (row["reserved_usd"], row["spent_usd"], row["left_usd"]) == (0.0, 1.25, 3.75)
    with pytest.raises(Conflict):
        budget.settle(ran, 1.25)  # a reservation closes once
    with pytest.raises(Conflict):
        budget.release(cancelled)


def test_a_provider_limit_counts_only_that_provider_and_an_overall_limit_counts_all():
    budget = a_budget(1.0, provider="braket")
    assert budget.applies_to("braket") and not budget.applies_to("ionq")
    budget.reserve(uuid4(), 1.0, "braket", MARCH)
    with pytest.raises(BudgetExceeded) as refused:
        budget.reserve(uuid4(), 0.5, "braket", MARCH)
    assert refused.value.provider == "braket" and "on braket" in refused.value.message

    budget.set_limit(3.0, "total", None)
    budget.reserve(uuid4(), 2.0, "ionq", MARCH)  # the braket limit does not count ionq
    with pytest.raises(BudgetExceeded) as refused:
        budget.reserve(uuid4(), 0.5, "ionq", MARCH)  # but the overall one counts both
    assert refused.value.provider is None and refused.value.left_usd == 0.0

    rows = {row["provider"]: row for row in budget.status(MARCH)}
    assert rows[None]["reserved_usd"] == 3.0 and rows["braket"]["reserved_usd"] == 1.0


def test_a_monthly_limit_starts_again_with_each_utc_month_and_a_total_one_does_not():
    monthly, total = a_budget(1.0, "month"), a_budget(1.0, "total")
    last_second = at("2026-03-31T23:59:59")
    next_month = at("2026-04-01T00:00:00")
    assert (month_of(last_second), month_of(next_month)) == ("2026-03", "2026-04")
    for budget in (monthly, total):
        budget.reserve(uuid4(), 1.0, "braket", last_second)
        with pytest.raises(BudgetExceeded):
            budget.reserve(uuid4(), 1.0, "braket", last_second)

    monthly.reserve(uuid4(), 1.0, "braket", next_month)
    with pytest.raises(BudgetExceeded):
        total.reserve(uuid4(), 1.0, "braket", next_month)

    [april] = monthly.status(next_month)
    assert (april["period_key"], april["reserved_usd"], april["left_usd"]) == ("2026-04", 1.0, 0.0)
    [march] = monthly.status(last_second)
    assert (march["period_key"], march["reserved_usd"]) == ("2026-03", 1.0)


def test_a_job_reserved_in_march_and_settled_in_april_counts_in_march():
    budget = a_budget(1.0, "month")
    job = uuid4()
    budget.reserve(job, 1.0, "braket", at("2026-03-31T23:00:00"))
    budget.settle(job, 0.9)
    assert budget.status(at("2026-04-01T01:00:00"))[0]["spent_usd"] == 0.0
    assert budget.status(at("2026-03-31T23:30:00"))[0]["spent_usd"] == 0.9


@pytest.mark.parametrize(
    ("usd", "period", "provider", "field"),
    [
        (-1, "total", None, "usd"),
        (float("nan"), "total", None, "usd"),
        (float("inf"), "total", None, "usd"),
        (2e9, "total", None, "usd"),
        (True, "total", None, "usd"),
        (10, "week", None, "period"),
        (10, "month", "Braket!", "provider"),
    ],
)
def test_a_limit_must_be_a_sensible_amount_over_a_known_period(usd, period, provider, field):
    with pytest.raises(RequestError) as refused:
        Budget.check_limit(usd, period, provider)
    assert refused.value.field == field


def test_a_limit_can_be_replaced_and_cleared():
    budget = a_budget(10, "month", "braket")
    budget.set_limit(20, "total", "braket")
    assert budget.status(MARCH)[0]["limit_usd"] == 20.0
    assert budget.status(MARCH)[0]["period"] == "total"
    budget.clear_limit("braket")
    assert budget.status(MARCH) == [] and not budget.applies_to("braket")
    with pytest.raises(Conflict):
        budget.clear_limit("braket")


def test_a_budget_is_stored_and_read_back_with_its_reservations_folded():
    app: Application = Application()
    budget = a_budget(10, "month", "braket")
    settled, held = uuid4(), uuid4()
    budget.reserve(settled, 2.0, "braket", MARCH)
    budget.reserve(held, 3.0, "braket", MARCH)
    budget.settle(settled, 1.5)
    app.save(budget)

    again: Budget = app.repository.get(Budget.create_id(budget.user_id))
    assert again.id == budget.id and again.version == budget.version
    assert list(again.open) == [held]
    assert again.spent == {("braket", "2026-03"): 1.5}
    assert again.status(MARCH) == budget.status(MARCH)
