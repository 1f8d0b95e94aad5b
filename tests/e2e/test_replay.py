"""`qorch replay` rebuilds every read model from the log, equal to the live ones."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from qorch.cli import main
from qorch.http.app import create_app
from tests.conftest import BELL_QASM2, BELL_QASM3, new_account, settings_for

pytestmark = pytest.mark.slow


def fill_store_with_100_jobs(data_dir: Path) -> None:
    with TestClient(create_app(settings_for(data_dir))) as client:
        accounts = [new_account(client), new_account(client)]
        job_ids = []
        for i in range(100):
            account = accounts[i % 2]
            body: dict[str, object] = {
                "circuits_qasm": [BELL_QASM2 if i % 3 else BELL_QASM3],
                "shots": 10 + i,
            }
            if i % 10 == 0:
                body["dry_run"] = True
            if i % 7 == 0:
                body["options"] = {"seed_simulator": i, "ibm_quantum_token": "secret-token"}
            job_ids.append((account, account.run(**body)["id"]))
        for account, job_id in job_ids:
            assert account.wait_for(job_id)["status"] == "Done"


@pytest.fixture(scope="module")
def store_with_100_jobs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("store")
    fill_store_with_100_jobs(data_dir)
    return data_dir


def test_credentials_passed_in_options_are_nowhere_in_the_stores(store_with_100_jobs: Path):
    for path in store_with_100_jobs.iterdir():
        assert b"secret-token" not in path.read_bytes(), path.name


def test_replay_of_100_jobs_rebuilds_views_equal_to_the_live_ones(
    store_with_100_jobs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    shutil.copytree(store_with_100_jobs, tmp_path, dirs_exist_ok=True)
    live_before = dump(tmp_path / "views.sqlite")
    assert len(live_before["jobs"]) == 100

    with pytest.raises(SystemExit) as exit_code:
        main(["replay", "--data-dir", str(tmp_path)])

    assert exit_code.value.code == 0
    out = capsys.readouterr().out
    assert "rebuilt views equal the live views" in out
    assert dump(tmp_path / "views.sqlite") == live_before


def test_replay_repairs_views_that_drifted(
    store_with_100_jobs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    shutil.copytree(store_with_100_jobs, tmp_path, dirs_exist_ok=True)
    live = tmp_path / "views.sqlite"
    expected = dump(live)
    with sqlite3.connect(live) as db:
        db.execute("UPDATE jobs SET status = 'Error' WHERE rowid = 1")

    with pytest.raises(SystemExit) as exit_code:
        main(["replay", "--data-dir", str(tmp_path)])

    assert exit_code.value.code == 1  # drift is reported, and repaired

    assert "replaced them with the rebuilt views" in capsys.readouterr().out
    assert dump(live) == expected


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as db:
        return {
            table: sorted(db.execute(f"SELECT * FROM {table}").fetchall())
            for table in ("experiments", "circuits", "jobs", "job_results", "job_circuits")
        }
