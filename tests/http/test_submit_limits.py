"""Submit caps (issue 11, finding 4): a user past their open-job cap or submit rate is answered
429 with the usual error body (and Retry-After), on /ai, on the haiqu routes and on MCP's path;
nothing is recorded, and other users are not affected."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from starlette.testclient import TestClient

from qorch.adapters.quotas import Quotas
from qorch.domain.job import JobStatus
from qorch.http import commands
from qorch.http.admission import OPEN_JOBS_SQL, OPEN_STATUSES, TooManyRequests
from qorch.http.app import create_app
from qorch.http.schemas import RunCircuitsRequest
from qorch.projections.database import SCHEMA
from tests.conftest import BELL_QASM2, Account, new_account, settings_for
from tests.sdk.test_sdk_wire import PROGRAM, sdk_post, upload_bell


def server_with(tmp_path: Path, quotas: Quotas) -> TestClient:
    # No executor: submitted jobs stay open.
    settings = settings_for(tmp_path).with_overrides(run_worker=False, quotas=quotas)
    return TestClient(create_app(settings))


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[TestClient]:
    with server_with(tmp_path, Quotas(max_queued_per_user=3, submit_rate=0)) as client:
        yield client


def submit(account: Account) -> Any:
    return account.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        {"experiment_id": account.experiment_id, "circuits_qasm": [BELL_QASM2], "shots": 10},
    )


def assert_429(answer: Any, code: str) -> dict:
    assert answer.status_code == 429, answer.text
    body = answer.json()
    assert body["error"]["code"] == code and body["error"]["field"] is None
    assert body["detail"] == body["error"]["message"]
    assert int(answer.headers["Retry-After"]) >= 1
    return body


def test_a_user_past_the_open_job_cap_is_refused_and_others_are_not(capped: TestClient):
    ada, bob = new_account(capped), new_account(capped)
    for _ in range(3):
        assert submit(ada).status_code == 201
    body = assert_429(submit(ada), "too_many_open_jobs")
    assert "3 jobs queued or running" in body["error"]["message"]
    assert len(ada.get("/jobs").json()["jobs"]) == 3  # nothing recorded
    # The haiqu routes count the same jobs.
    circuit_id = upload_bell(ada)
    flow = {"experiment_id": ada.experiment_id, "program": PROGRAM, "circuit_ids": [circuit_id]}
    assert_429(sdk_post(ada, "/flow", {**flow, "shots": 10}), "too_many_open_jobs")
    assert submit(bob).status_code == 201
    # A finished (here: cancelled) job frees its place.
    first = ada.get("/jobs").json()["jobs"][0]["id"]
    assert ada.post(f"/jobs/{first}/cancel", {}).status_code == 200
    assert submit(ada).status_code == 201
    # Restarting the cancelled job would open a fourth.
    assert_429(ada.post(f"/jobs/{first}/restart", {}), "too_many_open_jobs")


def test_a_user_past_the_submit_rate_is_told_when_to_retry(tmp_path: Path):
    quotas = Quotas(submit_rate=0.2, submit_burst=2, max_queued_per_user=0)
    with server_with(tmp_path, quotas) as client:
        ada, bob = new_account(client), new_account(client)
        assert submit(ada).status_code == 201
        assert submit(ada).status_code == 201
        answer = submit(ada)
        body = assert_429(answer, "rate_limited")
        assert 1 <= int(answer.headers["Retry-After"]) <= 5
        assert "per second" in body["error"]["message"]
        assert submit(bob).status_code == 201
        assert len(ada.get("/jobs").json()["jobs"]) == 2


def test_the_operation_behind_mcp_and_ai_refuses_past_the_cap(capped: TestClient):
    """MCP's run tool calls commands.submit_run, like /ai: the same refusal (an ApiError,
    which MCP answers as a tool error with the same code)."""
    ada = new_account(capped)
    service = capped.app.state.service  # type: ignore[attr-defined]
    user = service.app.find_user(UUID(ada.user_id))
    body = RunCircuitsRequest.model_validate(
        {"experiment_id": ada.experiment_id, "circuits_qasm": [BELL_QASM2], "shots": 10}
    )

    async def submit_four() -> None:
        for _ in range(3):
            await commands.submit_run(service, user, body)
        with pytest.raises(TooManyRequests) as raised:
            await commands.submit_run(service, user, body)
        assert raised.value.code == "too_many_open_jobs"

    assert capped.portal is not None
    capped.portal.call(submit_four)


def test_a_retry_of_a_recorded_submit_is_answered_even_at_the_cap(capped: TestClient):
    """A client that lost the answer to its submit retries with the same Idempotency-Key: it
    opens no new job, so it gets the first job back, not a 429."""
    ada = new_account(capped)
    body = {"experiment_id": ada.experiment_id, "circuits_qasm": [BELL_QASM2], "shots": 10}
    keyed = {**ada.headers, "Idempotency-Key": "retry-me"}
    first = capped.post("/ai/run_circuits_on_qpu_or_simulator", json=body, headers=keyed)
    assert first.status_code == 201, first.text
    for _ in range(2):
        assert submit(ada).status_code == 201
    assert_429(submit(ada), "too_many_open_jobs")
    again = capped.post("/ai/run_circuits_on_qpu_or_simulator", json=body, headers=keyed)
    assert again.status_code in (200, 201), again.text
    assert again.json()["job"]["id"] == first.json()["job"]["id"]
    # The haiqu routes: an identical submit within the retry window is the same job.
    circuit_id = upload_bell(ada)
    flow = {"experiment_id": ada.experiment_id, "program": PROGRAM, "circuit_ids": [circuit_id]}
    assert_429(sdk_post(ada, "/flow", flow), "too_many_open_jobs")


def test_circuit_uploads_count_against_a_storage_quota(tmp_path: Path):
    quotas = Quotas(submit_rate=0, max_stored_mb=1)
    with server_with(tmp_path, quotas) as client:
        ada, bob = new_account(client), new_account(client)
        padded = BELL_QASM2 + "// " + "x" * 600_000 + "\n"
        body = {"experiment_id": ada.experiment_id, "circuit_qasm": padded}
        assert ada.post("/ai/submit_circuit_for_analytics", body).status_code == 200
        body["circuit_qasm"] = padded + "// another\n"
        assert ada.post("/ai/submit_circuit_for_analytics", body).status_code == 200
        refused = ada.post("/ai/submit_circuit_for_analytics", {**body, "circuit_qasm": BELL_QASM2})
        assert refused.status_code == 429 and refused.json()["error"]["code"] == (
            "storage_quota_exceeded"
        )
        assert submit(ada).status_code == 429  # submits too
        assert submit(bob).status_code == 201  # Bob's own quota is untouched


def test_counting_open_jobs_reads_only_the_users_open_jobs():
    # A user with 100k finished jobs must not pay for them on every submit.
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA)
    plan = db.execute("EXPLAIN QUERY PLAN " + OPEN_JOBS_SQL, ("u", *OPEN_STATUSES)).fetchall()
    details = " ".join(row[-1] for row in plan)
    assert "USING COVERING INDEX jobs_by_user_status (user_id=? AND status=?)" in details
    assert set(OPEN_STATUSES) == {s.value for s in JobStatus} - {"Done", "Error", "Cancelled"}
