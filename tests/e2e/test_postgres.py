"""Scale-out on PostgreSQL: `qorch db init`, two API processes and two workers on one schema.

Each API process keeps its read models in its own data directory (local caches of the shared
log); jobs submitted to either are executed exactly once by one of the workers, and both API
processes see every job. Skipped when no PostgreSQL is reachable, except under CI=true.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from qorch.bootstrap import open_application
from qorch.settings import Settings
from tests.adapters.test_store import POSTGRES_URL
from tests.conftest import BELL_QASM2, postgres_or_skip
from tests.e2e.servers import Server, free_port, start_worker, stop

pytestmark = pytest.mark.slow

JOBS = 20


@pytest.fixture
def database_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    connection = postgres_or_skip(POSTGRES_URL)
    schema = f"qorch_e2e_{uuid.uuid4().hex[:8]}"
    url = f"{POSTGRES_URL}?schema={schema}"
    monkeypatch.setenv("QORCH_DATABASE_URL", url)  # the subprocesses inherit it
    try:
        yield url
    finally:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.close()


def test_two_api_processes_and_two_workers_share_one_postgresql_log(
    tmp_path: Path, database_url: str
):
    started = time.monotonic()
    workers: list[subprocess.Popen[str]] = []
    servers = [Server(tmp_path / f"api{i}", free_port(), "--no-worker") for i in (1, 2)]
    try:
        refused = subprocess.run(
            [sys.executable, "-m", "qorch", "worker", "--data-dir", str(tmp_path / "w0")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2 and "qorch db init" in refused.stderr

        subprocess.run(
            [sys.executable, "-m", "qorch", "db", "init", "--data-dir", str(tmp_path / "init")],
            check=True,
            timeout=60,
        )
        app = open_application(Settings(data_dir=tmp_path / "admin", database_url=database_url))
        try:
            _, key = app.register_user("ada")
        finally:
            app.close()

        for server in servers:
            server.key = key
            server.start()
        assert all(s.keys_printed == 0 for s in servers)  # the user already existed
        workers = [start_worker(tmp_path / f"worker{i}") for i in (1, 2)]

        experiment = servers[0].call("POST", "/experiments", json={"name": "pg"}).json()
        body = {"experiment_id": experiment["id"], "circuits_qasm": [BELL_QASM2], "shots": 50}
        job_ids = []
        for i in range(JOBS):
            answer = servers[i % 2].call("POST", "/ai/run_circuits_on_qpu_or_simulator", json=body)
            assert answer.status_code in (200, 201), answer.text
            job_ids.append(answer.json()["job"]["id"])

        worker_pids = {str(w.pid) for w in workers}
        for i, job_id in enumerate(job_ids):
            done = servers[(i + 1) % 2].call("GET", f"/jobs/{job_id}", params={"wait": 30}).json()
            assert done["status"] == "Done", done
            for server in servers:
                events = server.call("GET", f"/jobs/{job_id}/events").json()["events"]
                assert [e["type"] for e in events].count("Executed") == 1
                claimed = [e for e in events if e["type"] == "Claimed"]
                assert len(claimed) == 1
                assert claimed[0]["actor"]["worker_id"].split(":")[1] in worker_pids

        for server in servers:
            deadline = time.monotonic() + 10
            while True:
                listed = server.call("GET", "/jobs", params={"limit": 100}).json()["jobs"]
                seen = {j["id"]: j["status"] for j in listed}
                if set(job_ids) <= set(seen) and all(seen[j] == "Done" for j in job_ids):
                    break
                assert time.monotonic() < deadline, f"{server.url} sees {seen}"
                time.sleep(0.1)
    finally:
        for worker in workers:
            stop(worker)
        for server in servers:
            server.stop()

    # Each API process's views, rebuilt from the shared PostgreSQL log, equal its live ones.
    replay = subprocess.run(
        [sys.executable, "-m", "qorch", "replay", "--data-dir", str(servers[1].data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "rebuilt views equal the live views" in replay.stdout
    assert time.monotonic() - started < 90
