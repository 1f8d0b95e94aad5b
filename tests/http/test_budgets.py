"""Budgets at the HTTP level (issue 15, point 3), with the real estimator: a run on Braket's IonQ
Forte is priced by the dry-run path in a parser process ($0.30 per task + $0.08 per shot) before
it is recorded. Past what the budget has left it is answered 402 on /ai, REST and the haiqu-sdk
routes alike, and nothing is recorded; concurrent submits cannot overspend together."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from qorch.adapters.quotas import Quotas
from qorch.http.app import create_app
from qorch.http.mcp_tools import tool_specs
from tests.conftest import BELL_QASM2, Account, new_account, settings_for
from tests.sdk.test_sdk_wire import PROGRAM, sdk_post, upload_bell

AWS = {"aws_access_key_id": "AKIAFAKEKEYID0000042", "aws_secret_access_key": "wJalrXUtnFEMIK7M"}
ONE_JOB = 1.10
"""One Bell circuit, 10 shots on braket_ionq_forte: $0.30 + 10 x $0.08."""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # No executor: accepted jobs stay queued at no cost (and no request leaves the machine).
    settings = settings_for(tmp_path_factory.mktemp("budgets")).with_overrides(
        run_worker=False, quotas=Quotas(submit_rate=0)
    )
    with TestClient(create_app(settings)) as client:
        yield client


def budgeted(client: TestClient, usd: float, **limit: Any) -> Account:
    account = new_account(client)
    service = client.app.state.service  # type: ignore[attr-defined]
    service.app.set_budget(UUID(account.user_id), usd, **limit)
    return account


def run_on_forte(account: Account, shots: int = 10, **body: Any) -> Any:
    circuits = {"circuits_qasm": [BELL_QASM2]} if "circuit_ids" not in body else {}
    return account.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        {
            "experiment_id": account.experiment_id,
            "device_id": "braket_ionq_forte",
            "shots": shots,
            "options": AWS,
            **circuits,
            **body,
        },
    )


def jobs_of(account: Account) -> list[dict]:
    return account.get("/jobs").json()["jobs"]


def assert_402(answer: Any) -> str:
    assert answer.status_code == 402, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("budget_exceeded", "device_id")
    return str(error["message"])


def test_an_80_dollar_run_on_a_10_dollar_monthly_budget_is_refused_and_nothing_recorded(
    client: TestClient,
):
    ada = budgeted(client, 10, period="month")

    message = assert_402(run_on_forte(ada, shots=1000))

    month = datetime.now(UTC).strftime("%Y-%m")
    assert "estimated at $80.30" in message
    assert f"$10.00 of $10.00 on all providers this month ({month}, UTC)" in message
    assert jobs_of(ada) == []
    # A dry run of the same request is what shows the estimate, and costs nothing.
    dry = run_on_forte(ada, shots=1000, dry_run=True, options={})
    assert dry.status_code == 201, dry.text


def test_twenty_concurrent_submits_on_a_budget_of_ten_jobs_accept_exactly_ten(
    client: TestClient,
):
    ada = budgeted(client, 10 * ONE_JOB)
    stored = ada.post(
        "/ai/submit_circuit_for_analytics",
        {"experiment_id": ada.experiment_id, "circuit_qasm": BELL_QASM2},
    )
    circuit_id = stored.json()["circuit"]["id"]

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: run_on_forte(ada, circuit_ids=[circuit_id]), range(20)))

    assert Counter(answer.status_code for answer in answers) == {201: 10, 402: 10}
    assert len(jobs_of(ada)) == 10
    service = client.app.state.service  # type: ignore[attr-defined]
    [row] = service.app.budget_status(UUID(ada.user_id))
    assert row["reserved_usd"] == pytest.approx(10 * ONE_JOB) and row["left_usd"] == 0.0


def test_cancelling_a_queued_job_gives_its_reservation_back(client: TestClient):
    ada = budgeted(client, ONE_JOB)
    first = run_on_forte(ada)
    assert first.status_code == 201, first.text
    assert_402(run_on_forte(ada))

    assert ada.post(f"/jobs/{first.json()['job']['id']}/cancel", {}).status_code == 200

    assert run_on_forte(ada).status_code == 201


def test_a_provider_budget_leaves_other_providers_and_free_devices_alone(client: TestClient):
    ada = budgeted(client, 0, provider="braket")
    assert_402(run_on_forte(ada))
    ionq = ada.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        {
            "experiment_id": ada.experiment_id,
            "circuits_qasm": [BELL_QASM2],
            "device_id": "ionq_forte_1",
            "options": {"ionq_api_key": "ionq-key-0000"},
        },
    )
    assert ionq.status_code == 201, ionq.text
    assert ada.run(circuits_qasm=[BELL_QASM2], shots=10)["device_id"] == "aer_simulator"
    bob = new_account(client)  # without a budget
    assert run_on_forte(bob, shots=1000).status_code == 201


def test_the_haiqu_sdk_wire_answers_the_same_402(client: TestClient):
    ada = budgeted(client, 1)
    circuit_id = upload_bell(ada)
    device = {"type": "device", "device_id": "braket_ionq_forte", "options": AWS}
    program = {**PROGRAM, "layers": [*PROGRAM["layers"][:-1], device]}
    body = {
        "experiment_id": ada.experiment_id,
        "program": program,
        "circuit_ids": [circuit_id],
        "shots": 100,
    }

    message = assert_402(sdk_post(ada, "/flow", body))

    assert "estimated at $8.30" in message and "$1.00 of $1.00" in message
    assert jobs_of(ada) == []


def test_no_route_lets_a_user_change_a_budget(client: TestClient):
    """Budgets are set with `qorch budget set` by whoever runs qorch: no request changes one."""
    writes = [
        route.path
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route)
        and "budget" in route.path
        and set(route.methods or ()) - {"GET", "HEAD"}
    ]
    assert writes == []
    service = client.app.state.service  # type: ignore[attr-defined]
    tools = [spec.name for spec in tool_specs(service.limits)]
    assert "run_circuits_on_qpu_or_simulator" in tools
    assert [name for name in tools if "budget" in name] == []
