"""Where a client finds its server and key: arguments, then QORCH_URL / QORCH_API_KEY, then the
config file; a clear error when no key is anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from qorch.client import Client, ConfigError, config


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("QORCH_URL", "QORCH_API_KEY", "QORCH_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def test_arguments_win_over_the_environment_which_wins_over_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    file = tmp_path / "xdg" / "qorch" / "config.toml"
    file.parent.mkdir(parents=True)
    file.write_text('url = "http://from-file:1"\napi_key = "qk_file"\n')
    assert config.resolve() == config.Config("http://from-file:1", "qk_file")

    monkeypatch.setenv("QORCH_API_KEY", "qk_env")
    assert config.resolve() == config.Config("http://from-file:1", "qk_env")
    monkeypatch.setenv("QORCH_URL", "http://from-env:2/")
    assert config.resolve() == config.Config("http://from-env:2", "qk_env")
    assert config.resolve("http://given:3", "qk_given") == config.Config(
        "http://given:3", "qk_given"
    )
    assert "qk_given" not in repr(config.resolve("http://given:3", "qk_given"))


def test_qorch_config_names_another_file_and_the_url_defaults_to_qorch_serve(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    elsewhere = tmp_path / "team.toml"
    elsewhere.write_text('api_key = "qk_team"\n')
    monkeypatch.setenv("QORCH_CONFIG", str(elsewhere))

    assert config.resolve() == config.Config("http://127.0.0.1:8000", "qk_team")
    with Client() as client:
        assert client.url == "http://127.0.0.1:8000"


def test_without_a_key_or_with_a_broken_file_the_error_says_where_to_look(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    with pytest.raises(ConfigError) as missing:
        Client("http://127.0.0.1:8000")
    assert missing.value.code == "no_api_key" and "QORCH_API_KEY" in str(missing.value)
    assert str(tmp_path / "xdg" / "qorch" / "config.toml") in str(missing.value)

    broken = tmp_path / "broken.toml"
    monkeypatch.setenv("QORCH_CONFIG", str(broken))
    broken.write_text("url = \n")
    with pytest.raises(ConfigError, match="cannot read"):
        config.resolve()
    broken.write_text("api_key = 42\n")
    with pytest.raises(ConfigError, match="api_key must be a string"):
        config.resolve()
