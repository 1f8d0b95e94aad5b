"""An operator reads a user's usage with `qorch usage NAME`: the same document `GET /usage`
answers (with --json), or a table; a period that is not a month is refused naming it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from qorch.bootstrap import open_application
from qorch.domain.execution import ActualCost, CircuitOutcome, ExecutionOutcome
from qorch.domain.requests import RunRequest
from qorch.http.app import create_app
from qorch.settings import Settings
from tests.conftest import BELL_QASM2, settings_for
from tests.test_cli import run_cli

BILL = ActualCost(usd=12.4166, source="reported", tasks=1, shots=100)


def ada_ran_on_ionq_and_a_simulator(data_dir: Path) -> str:
    """Ada's two runs, recorded as a worker records them; answers her API key."""
    app = open_application(Settings(data_dir=data_dir))
    try:
        user_id, key = app.register_user("ada")
        experiment = str(app.create_experiment(user_id, "usage").id)
        app.set_budget(user_id, 100.0, "month", "ionq")
        for device, cost in (("ionq_aria_1", BILL), ("aer_simulator", None)):
            options = {"ionq_api_key": "k"} if cost else {}
            request = RunRequest(
                experiment, circuits_qasm=[BELL_QASM2], device_id=device, shots=100, options=options
            )
            job_id = app.submit_job(user_id, request).id
            assert app.claim_job(job_id, "w", time.time(), False, 30) is not None
            bell = CircuitOutcome(distributions=[{"00": 1.0}], counts=[{"00": 100}])
            assert app.record_results(job_id, "w", ExecutionOutcome([bell], cost=cost))
    finally:
        app.close()
    return key


def test_qorch_usage_prints_what_get_usage_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    key = ada_ran_on_ionq_and_a_simulator(tmp_path)

    code, out, err = run_cli(capsys, "usage", "ada", "--json", "--data-dir", str(tmp_path))

    assert code == 0, err
    printed = json.loads(out)
    settings = settings_for(tmp_path).with_overrides(run_worker=False)
    with TestClient(create_app(settings)) as client:
        answered = client.get("/usage", headers={"Authorization": key}).json()
    assert printed == answered
    [ionq] = [row for row in printed["providers"] if row["provider"] == "ionq"]
    assert (ionq["jobs"], ionq["tasks"], ionq["shots"], ionq["actual_usd"]) == (1, 1, 100, 12.4166)
    assert ionq["estimated_usd"] > 0  # what the submit reserved from her budget
    assert ionq["budget_left_usd"] == pytest.approx(100.0 - 12.4166)


def test_qorch_usage_prints_a_table_by_day_device_and_provider(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    ada_ran_on_ionq_and_a_simulator(tmp_path)

    code, out, _ = run_cli(capsys, "usage", "ada", "--data-dir", str(tmp_path))

    assert code == 0
    today = time.strftime("%Y-%m-%d", time.gmtime())
    lines = out.splitlines()
    assert "2 run(s)" in out and "actual $12.4166" in out
    assert any(line.split()[:3] == [today, "ionq", "ionq_aria_1"] for line in lines)
    assert any(line.split()[:3] == [today, "local", "aer_simulator"] for line in lines)
    assert any(line.startswith("budget on ionq") for line in lines)


def test_qorch_usage_refuses_a_period_that_is_not_a_month_or_an_unknown_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    ada_ran_on_ionq_and_a_simulator(tmp_path)
    data = ["--data-dir", str(tmp_path)]

    code, _, err = run_cli(capsys, "usage", "ada", "--period", "2026-13", *data)
    assert code == 2 and "period" in err
    code, _, err = run_cli(capsys, "usage", "nobody", *data)
    assert code == 2 and "no user named 'nobody'" in err
    code, out, _ = run_cli(capsys, "usage", "ada", "--period", "2001-02", "--json", *data)
    assert code == 0 and json.loads(out)["rows"] == [] and json.loads(out)["to"] == "2001-02-28"
