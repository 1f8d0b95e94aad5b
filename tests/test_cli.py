"""What the command line prints and logs never shows an API key; how it reads its settings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from qorch.adapters.circuit_sandbox import SandboxConfig
from qorch.adapters.quotas import Quotas
from qorch.bootstrap import limits_from, open_application, parser_from, quotas_from
from qorch.cli import RedactKeys, main, redact
from qorch.domain.requests import Limits
from qorch.settings import Settings, machine_memory_mb, settings_from_env


@pytest.mark.parametrize(
    "path",
    [
        "/jobs?HAIQU_API_KEY=qk_secret-123&limit=5",
        "/jobs?haiqu_api_key=qk_secret-123",
        "/jobs?HAIQU%5FAPI%5FKEY=qk_secret-123",
        "/jobs?other=qk_secret-123",
        "/jobs?HAIQU_%41PI_KEY=qk%5Fsecret-123",
        "/jobs?%48AIQU_API_KEY=secret-123",
        "/jobs?haiqu_api_key=%71%6B%5Fsecret-123",
        "/jobs?x=1&HAIQU+API+KEY=1&HAIQU_API_KEY=secret-123",
        "/jobs?other=%71k_secret-123",
        "/jobs?other=qk%255Fsecret-123",  # encoded twice
        "/jobs?x='&HAIQU_%41PI_KEY=qk%5Fsecret-123",  # a quote before the key
        '/jobs?x="&HAIQU_API_KEY=secret-123',
    ],
)
def test_keys_in_query_strings_are_redacted_even_percent_encoded(path: str):
    assert "secret-123" not in redact(path)
    assert "[redacted]" in redact(path)


@pytest.mark.parametrize(
    "path",
    ["/jobs?HAIQU_API_KEY=qk_secret-123&limit=5", "/jobs?HAIQU_%41PI_KEY=qk%5Fsecret-123&limit=5"],
)
def test_the_access_log_filter_redacts_the_arguments_it_formats(path: str):
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", path, "1.1", 200),
        None,
    )
    assert RedactKeys().filter(record)
    message = record.getMessage()
    assert "secret-123" not in message
    assert "limit=5" in message


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit:
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_users_rotate_key_prints_a_new_key_and_the_old_one_stops_working(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = str(tmp_path)
    code, out, _ = run_cli(capsys, "users", "create", "carol", "--data-dir", data)
    assert code == 0
    old_key = out.strip().splitlines()[-1]
    app = open_application(Settings(data_dir=tmp_path))
    try:
        user = app.authenticate(old_key)
        assert user is not None
        experiment = app.create_experiment(user.id, "carol's")
    finally:
        app.close()
    code, out, _ = run_cli(capsys, "users", "rotate-key", "carol", "--data-dir", data)
    assert code == 0
    new_key = out.strip().splitlines()[-1]
    assert new_key.startswith("qk_") and new_key != old_key
    app = open_application(Settings(data_dir=tmp_path))
    try:
        assert app.authenticate(old_key) is None
        rotated = app.authenticate(new_key)
        assert rotated is not None and rotated.id == user.id
        assert app.owned_experiment(rotated.id, str(experiment.id), "experiment_id")
    finally:
        app.close()
    code, out, _ = run_cli(capsys, "users", "revoke", str(user.id), "--data-dir", data)
    assert code == 0
    app = open_application(Settings(data_dir=tmp_path))
    try:
        assert app.authenticate(new_key) is None
    finally:
        app.close()


def test_users_commands_refuse_an_unknown_or_ambiguous_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = str(tmp_path)
    code, _, err = run_cli(capsys, "users", "revoke", "nobody", "--data-dir", data)
    assert code == 2 and "no user named 'nobody'" in err
    for _ in range(2):
        run_cli(capsys, "users", "create", "twin", "--data-dir", data)
    code, out, err = run_cli(capsys, "users", "rotate-key", "twin", "--data-dir", data)
    assert code == 2 and "2 users named 'twin'" in err and "qk_" not in out


def test_a_misconfigured_variable_is_named_and_stops_qorch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("QORCH_MAX_SHOTS", "plenty")
    code, _, err = run_cli(capsys, "users", "create", "dan", "--data-dir", str(tmp_path))
    assert code == 2 and "QORCH_MAX_SHOTS" in err
    monkeypatch.setenv("QORCH_MAX_SHOTS", "100")
    monkeypatch.setenv("QORCH_JOB_TIME_LIMITS", "aer_simulator")
    code, _, err = run_cli(capsys, "users", "create", "dan", "--data-dir", str(tmp_path))
    assert code == 2 and "QORCH_JOB_TIME_LIMITS" in err and "device=value" in err


def test_unset_variables_keep_the_defaults_of_what_they_configure():
    settings = settings_from_env({})
    # The machine's memory is what a dense StatevectorRun is checked against, probed when unset.
    assert limits_from(settings) == Limits(machine_memory_mb=machine_memory_mb())
    assert machine_memory_mb() > 0
    assert quotas_from(settings) == Quotas()
    assert parser_from(settings) == SandboxConfig()


def test_variables_configure_limits_quotas_and_parsers_and_flags_override_them(
    monkeypatch: pytest.MonkeyPatch,
):
    environment = {
        "QORCH_MAX_SHOTS": "5000",
        "QORCH_MAX_TAG_LENGTH": "12",
        "QORCH_JOB_MEMORY_LIMITS_MB": "aer_simulator=512",
        "QORCH_PARSE_WORKERS": "1",
        "QORCH_PROVIDERS": "local, braket",
        "QORCH_PORT": "9000",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings().with_overrides(port=8123, host=None)
    assert (limits_from(settings).max_shots, limits_from(settings).text.max_tag) == (5000, 12)
    assert quotas_from(settings).memory_limit_mb_for("aer_simulator") == 512
    assert parser_from(settings).workers == 1
    assert settings.providers == ("local", "braket")
    assert (settings.port, settings.host) == (8123, "127.0.0.1")
    assert settings_from_env(environment) == Settings()
