"""A user's mistakes with provider credentials get a clear 4xx, and nothing is recorded."""

from __future__ import annotations

import pytest

from tests.conftest import BELL_QASM2, Account


def submit(account: Account, device_id: str, options: dict, **body: object):
    return account.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        {
            "experiment_id": account.experiment_id,
            "circuits_qasm": [BELL_QASM2],
            "device_id": device_id,
            "options": options,
            **body,
        },
    )


def jobs_of(account: Account) -> list:
    return account.get("/jobs").json()["jobs"]


def test_a_qpu_run_without_credentials_names_the_missing_option(alice: Account):
    answer = submit(alice, "braket_ionq_forte", {"aws_access_key_id": "AKIA0000"})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"] == "options"
    assert "aws_secret_access_key is required to run on braket_ionq_forte" in error["message"]
    assert jobs_of(alice) == []


@pytest.mark.parametrize(
    "value", ["FwoGZXIvYXdzEJr\n", " wJalrXUtn", "wJal rXUtn", "wJal\x00rXUtn", 42, ""], ids=repr
)
def test_a_pasted_key_with_whitespace_or_the_wrong_type_is_refused_without_echoing_it(
    alice: Account, value: object
):
    options = {"aws_access_key_id": "AKIA0000", "aws_secret_access_key": value}
    answer = submit(alice, "braket_ionq_forte", options)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "options.aws_secret_access_key"
    if isinstance(value, str) and value:
        assert value.strip() not in answer.text
    listed = alice.post("/ai/list_qpus_and_simulators", {"options": options})
    assert listed.status_code == 422
    assert jobs_of(alice) == []


def test_a_dry_run_on_a_qpu_needs_no_credentials(alice: Account):
    answer = submit(alice, "ionq_forte_1", {}, dry_run=True, shots=1000)
    assert answer.status_code in (200, 201), answer.text
    job = alice.get(f"/jobs/{answer.json()['job']['id']}", wait=60).json()
    assert job["status"] == "Done"
    cost = job["estimated_qpu_cost"]
    assert cost["converted"]["unit"] == "USD" and cost["converted"]["amount"] > 0
    assert cost["native"]["unit"] == "s" and cost["native"]["amount"] > 0
    assert cost["breakdown"]["price_table_version"] == "2026-11-01"
    assert cost["circuits"][0]["gates_2q"] >= 1


def test_a_restart_with_a_malformed_body_is_a_400(alice: Account):
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=10)
    answer = alice.client.post(f"/jobs/{job['id']}/restart", content=b"{bad", headers=alice.headers)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "malformed_json"
