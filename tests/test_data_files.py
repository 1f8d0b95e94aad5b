"""Every file qorch keeps is readable by its own account only: the data directory is 0700 and
every file in it 0600 (the SQLite databases with their -wal and -shm files, the credential
vault, the dashboard's secret), whether qorch runs as `qorch serve` or in-process."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from qorch.http.app import create_app
from tests.conftest import BELL_QASM2, settings_for
from tests.e2e.servers import Server, free_port


def modes_under(data_dir: Path) -> dict[str, int]:
    modes = {".": stat.S_IMODE(data_dir.stat().st_mode)}
    for root, dirs, files in os.walk(data_dir):
        for name in [*dirs, *files]:
            path = Path(root) / name
            modes[str(path.relative_to(data_dir))] = stat.S_IMODE(path.lstat().st_mode)
    return modes


def assert_private(data_dir: Path) -> None:
    modes = modes_under(data_dir)
    names = set(modes)
    assert {"events.sqlite", "views.sqlite", "dashboard-secret"} <= names, names
    assert any(name.endswith("-wal") for name in names), names
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (data_dir / name).is_dir() else 0o600)
    }
    assert not wrong, wrong


def use_everything(post: Callable[..., Any], key: str) -> None:
    """Signs in to the dashboard and runs a job: every file qorch makes exists afterwards."""
    answer = post("POST", "/experiments", json={"name": "files"}, headers={"Authorization": key})
    assert answer.status_code == 201, answer.text
    run = {
        "experiment_id": answer.json()["id"],
        "circuits_qasm": [BELL_QASM2],
        "shots": 10,
    }
    answer = post(
        "POST", "/ai/run_circuits_on_qpu_or_simulator", json=run, headers={"Authorization": key}
    )
    assert answer.status_code == 201, answer.text
    job_id = answer.json()["job"]["id"]
    answer = post("GET", f"/jobs/{job_id}", params={"wait": 60}, headers={"Authorization": key})
    assert answer.json()["status"] == "Done", answer.text
    signed_in = post(
        "POST",
        "/dashboard/sign-in",
        data={"api_key": key},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert signed_in.status_code in (200, 303), signed_in.text


def test_an_in_process_app_keeps_its_files_private(tmp_path: Path):
    data_dir = tmp_path / "data"
    with TestClient(create_app(settings_for(data_dir))) as client:
        _, key = client.app.state.service.app.register_user("files")  # type: ignore[attr-defined]
        use_everything(client.request, key)
        assert_private(data_dir)


def test_qorch_serve_keeps_its_files_private_even_in_a_directory_made_before(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)
    secret = data_dir / "dashboard-secret"  # e.g. left by an earlier version
    secret.write_bytes(os.urandom(32))
    os.chmod(secret, 0o644)
    server = Server(data_dir, free_port())
    server.start()
    try:

        def call(method: str, path: str, **kwargs: object) -> httpx.Response:
            return httpx.request(method, server.url + path, timeout=90, **kwargs)  # type: ignore[arg-type]

        use_everything(call, server.key)
        assert_private(data_dir)
    finally:
        server.stop()
