"""Integers from query strings, headers and tool arguments are bounded before use (a 4xx, never a
500), and two requests that change one job at once answer 409 to the loser, never 500."""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

import pytest
from starlette.testclient import TestClient

from qorch.domain.application import Qorch
from qorch.domain.job import Job
from tests.conftest import BELL_QASM2, Account

HUGE = "99999999999999999999"


def browser(account: Account) -> TestClient:
    client = TestClient(account.client.app)
    answer = client.post("/dashboard/sign-in", data={"api_key": account.key})
    assert answer.status_code == 200, answer.text
    return client


def error_of(answer: Any) -> dict[str, Any]:
    body = answer.json()
    assert set(body) == {"error", "detail"}, body
    return body["error"]


@pytest.mark.parametrize("path", ["/dashboard/jobs", "/dashboard/experiments"])
@pytest.mark.parametrize("page", [HUGE, str(2**63), "-" + HUGE])
def test_a_huge_dashboard_page_number_is_a_4xx(alice: Account, path: str, page: str):
    answer = browser(alice).get(path, params={"page": page})
    if page.startswith("-"):
        assert answer.status_code == 200  # below 1 reads as the first page, as before
        return
    assert answer.status_code == 422, answer.text
    assert error_of(answer)["field"] == "page"


def test_a_page_number_within_bounds_still_pages(alice: Account):
    assert browser(alice).get("/dashboard/jobs", params={"page": "1000"}).status_code == 200


@pytest.mark.parametrize("header", ["Last-Event-ID", None])
@pytest.mark.parametrize("value", [HUGE, str(2**63), "9" * 4000])
def test_a_huge_last_event_id_is_a_4xx(alice: Account, header: str | None, value: str):
    client = browser(alice)
    if header:
        answer = client.get("/dashboard/events", headers={header: value})
    else:
        answer = client.get("/dashboard/events", params={"after": value})
    assert answer.status_code == 400, answer.text
    assert error_of(answer)["code"] == "invalid_request"


# --- write conflicts ---


def race_on(monkeypatch: pytest.MonkeyPatch, command: str, job_id: str, rival: Any) -> None:
    """The next `Job.<command>` on this job is preceded by `rival` changing the job: the request
    then writes on a stale version, as when two API processes take the same command at once."""
    original = getattr(Job, command)
    raced = threading.Event()

    def racing(job: Job, *args: Any, **kwargs: Any) -> Any:
        if str(job.id) == job_id and not raced.is_set():
            raced.set()
            rival()
        return original(job, *args, **kwargs)

    monkeypatch.setattr(Job, command, racing)


def test_concurrent_restarts_of_one_job_answer_409_not_500(
    alice: Account, monkeypatch: pytest.MonkeyPatch
):
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=10)
    alice.wait_for(job["id"])
    app: Qorch = alice.client.app.state.service.app  # type: ignore[attr-defined]
    race_on(
        monkeypatch, "restart", job["id"], lambda: app.restart_job(UUID(alice.user_id), job["id"])
    )
    answer = alice.client.post(f"/jobs/{job['id']}/restart", headers=alice.headers)
    assert answer.status_code == 409, answer.text
    assert error_of(answer)["code"] == "conflict"
    events = [type(e).__name__ for e in app.repository.event_store.get(UUID(job["id"]))]
    assert events.count("Restarted") == 1


def test_concurrent_cancels_of_one_job_answer_409_not_500(
    alice: Account, monkeypatch: pytest.MonkeyPatch
):
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=10, dry_run=True)
    app: Qorch = alice.client.app.state.service.app  # type: ignore[attr-defined]
    alice.wait_for(job["id"])
    restarted = alice.client.post(f"/jobs/{job['id']}/restart", headers=alice.headers)
    assert restarted.status_code in (200, 201, 202), restarted.text
    race_on(
        monkeypatch, "cancel", job["id"], lambda: app.cancel_job(UUID(alice.user_id), job["id"])
    )
    answer = alice.client.post(f"/jobs/{job['id']}/cancel", headers=alice.headers)
    # The rival cancelled it first (409), unless the job had finished before either (409 too).
    assert answer.status_code == 409, answer.text
    assert error_of(answer)["code"] == "conflict"


def test_a_write_conflict_reaching_the_boundary_is_409(
    alice: Account, monkeypatch: pytest.MonkeyPatch
):
    from eventsourcing.persistence import IntegrityError

    app: Qorch = alice.client.app.state.service.app  # type: ignore[attr-defined]

    def conflicted(*args: Any, **kwargs: Any) -> Any:
        raise IntegrityError("UNIQUE constraint failed: stored_events")

    monkeypatch.setattr(app, "create_experiment", conflicted)
    answer = alice.post("/experiments", {"name": "raced"})
    assert answer.status_code == 409, answer.text
    assert error_of(answer)["code"] == "conflict"
