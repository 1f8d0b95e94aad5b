"""An operator limits what a user's runs on paid devices may cost: `qorch budget set/show/clear`
on the data directory (no request a user can make changes a budget)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qorch.bootstrap import open_application
from qorch.settings import Settings
from tests.test_cli import run_cli


def test_an_operator_sets_shows_and_clears_a_users_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = str(tmp_path)
    run_cli(capsys, "users", "create", "erin", "--data-dir", data)

    code, out, _ = run_cli(capsys, "budget", "set", "erin", "--usd", "100", "--data-dir", data)
    assert code == 0
    assert "on all providers in total: limit $100.00, reserved $0.00, spent $0.00" in out
    code, out, _ = run_cli(
        capsys,
        "budget",
        "set",
        "erin",
        "--usd",
        "12.5",
        "--period",
        "month",
        "--provider",
        "braket",
        "--data-dir",
        data,
    )
    assert code == 0
    code, out, _ = run_cli(capsys, "budget", "show", "erin", "--data-dir", data)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("budget of 'erin' (")
    assert "on all providers in total: limit $100.00" in lines[1]
    assert "on braket in " in lines[2] and "(UTC month): limit $12.50" in lines[2]
    assert lines[2].endswith("left $12.50")

    app = open_application(Settings(data_dir=tmp_path))
    try:
        [erin] = app.users_named("erin")
        limits = {(row["provider"], row["period"]) for row in app.budget_status(erin.id)}
        assert limits == {(None, "total"), ("braket", "month")}
    finally:
        app.close()

    code, out, _ = run_cli(capsys, "budget", "clear", "erin", "--data-dir", data)
    assert code == 0 and "on all providers" not in out and "on braket" in out


def test_budget_commands_refuse_bad_amounts_providers_and_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = str(tmp_path)
    run_cli(capsys, "users", "create", "frank", "--data-dir", data)
    code, _, err = run_cli(capsys, "budget", "set", "frank", "--usd", "-3", "--data-dir", data)
    assert code == 2 and "usd: must be between 0" in err
    code, _, err = run_cli(
        capsys, "budget", "set", "frank", "--usd", "3", "--provider", "brakett", "--data-dir", data
    )
    assert code == 2 and "unknown provider 'brakett'" in err
    code, _, err = run_cli(capsys, "budget", "show", "nobody", "--data-dir", data)
    assert code == 2 and "no user named 'nobody'" in err
    code, _, err = run_cli(capsys, "budget", "clear", "frank", "--data-dir", data)
    assert code == 2 and "no budget" in err
    code, out, _ = run_cli(capsys, "budget", "show", "frank", "--data-dir", data)
    assert code == 0 and "no limits" in out
