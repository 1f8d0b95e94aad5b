"""`GET /usage`: a user reads what their runs used and cost in a month, and only their own; a
period that is not a month is refused naming `period`."""

from __future__ import annotations

import time
import uuid

import pytest

from qorch.http.costs import cost_context
from tests.conftest import BELL_QASM2, Account


def this_month() -> str:
    return time.strftime("%Y-%m", time.gmtime())


def test_a_new_user_has_no_usage_this_month(alice: Account):
    answer = alice.get("/usage")

    assert answer.status_code == 200, answer.text
    usage = answer.json()
    assert usage["period"] == this_month() and usage["from"] == f"{this_month()}-01"
    assert usage["rows"] == [] and usage["providers"] == [] and usage["budget"] == []
    assert usage["totals"] == {
        "jobs": 0,
        "tasks": 0,
        "shots": 0,
        "estimated_usd": 0,
        "actual_usd": 0,
        "budget_left_usd": None,
    }


def test_runs_on_a_simulator_count_in_the_day_they_ended_and_cost_nothing(alice: Account):
    for shots in (100, 200):
        alice.wait_for(alice.run(circuits_qasm=[BELL_QASM2, BELL_QASM2], shots=shots)["id"])
    alice.wait_for(
        alice.run(circuits_qasm=[BELL_QASM2], device_id="ionq_aria_1", dry_run=True)["id"]
    )

    usage = alice.get("/usage", period=this_month()).json()

    [row] = usage["rows"]
    assert row == {
        "day": time.strftime("%Y-%m-%d", time.gmtime()),
        "provider": "local",
        "device_id": "aer_simulator",
        "jobs": 2,  # the dry run is not usage
        "tasks": 0,
        "shots": 600,
        "estimated_usd": 0.0,
        "actual_usd": 0.0,
    }
    [local] = usage["providers"]
    assert local["provider"] == "local" and local["jobs"] == 2 and local["budget_left_usd"] is None
    assert usage["totals"]["shots"] == 600


def test_a_job_answer_shows_its_actual_cost_next_to_its_estimate(alice: Account):
    done = alice.wait_for(alice.run(circuits_qasm=[BELL_QASM2], shots=10)["id"])
    assert "actual_cost" in done and done["actual_cost"] is None  # a free simulator
    dry = alice.wait_for(
        alice.run(circuits_qasm=[BELL_QASM2], device_id="ionq_aria_1", dry_run=True)["id"]
    )
    assert dry["estimated_usd"] == dry["estimated_qpu_cost"]["converted"]["amount"] > 0
    assert dry["actual_cost"] is None


def test_each_user_reads_only_their_own_usage(alice: Account, bob: Account):
    alice.wait_for(alice.run(circuits_qasm=[BELL_QASM2], shots=10)["id"])

    assert bob.get("/usage").json()["rows"] == []
    assert alice.get("/usage").json()["totals"]["jobs"] >= 1
    for sneaky in ({"user_id": alice.user_id}, {"user": alice.user_id}):
        assert bob.get("/usage", **sneaky).json()["rows"] == []
    assert alice.client.get("/usage").status_code == 401


def test_the_budget_left_is_shown_beside_the_usage(alice: Account):
    app = alice.client.app.state.service.app  # type: ignore[attr-defined]
    app.set_budget(uuid.UUID(alice.user_id), 50.0, "month", "ionq")
    app.set_budget(uuid.UUID(alice.user_id), 500.0, "total")

    usage = alice.get("/usage").json()

    assert {(limit["provider"], limit["period"]) for limit in usage["budget"]} == {
        ("ionq", "month"),
        (None, "total"),
    }
    [ionq] = [row for row in usage["providers"] if row["provider"] == "ionq"]
    assert ionq["budget_left_usd"] == 50.0 and ionq["jobs"] == 0
    assert usage["totals"]["budget_left_usd"] == 500.0
    long_ago = alice.get("/usage", period="2000-01").json()  # a monthly limit, read for then
    assert {limit["period_key"] for limit in long_ago["budget"]} == {"2000-01", "total"}


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "2026-1", "26-11", "november", "1969-12"])
def test_a_period_that_is_not_a_month_is_refused_naming_period(alice: Account, period: str):
    answer = alice.get("/usage", period=period)

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "period"


def test_an_agents_summary_says_what_a_run_cost_beside_the_estimate():
    job = {"actual_cost": {"usd": 3.2, "source": "computed"}, "estimated_usd": 24.8332}
    assert cost_context(job) == (
        " It cost $3.20 (the provider's usage priced with qorch's price table;"
        " qorch estimated $24.8332)."
    )
    assert cost_context({"actual_cost": None, "estimated_usd": 1.0}) == ""
