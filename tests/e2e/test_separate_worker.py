"""An API process without a worker, and `qorch worker` beside it on the same store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BELL_QASM2
from tests.e2e.servers import Server, free_port, start_worker, stop

pytestmark = pytest.mark.slow


def test_jobs_wait_for_a_worker_and_a_separate_worker_process_runs_them(tmp_path: Path):
    server = Server(tmp_path, free_port(), "--no-worker")
    server.start()
    worker = None
    try:
        experiment = server.call("POST", "/experiments", json={"name": "split"}).json()
        body = {"experiment_id": experiment["id"], "circuits_qasm": [BELL_QASM2], "shots": 300}
        first = server.call("POST", "/ai/run_circuits_on_qpu_or_simulator", json=body).json()
        queued = server.call("GET", f"/jobs/{first['job']['id']}", params={"wait": 1}).json()
        assert queued["status"] == "Queued"  # nobody executes jobs in this process

        worker = start_worker(tmp_path)
        jobs = [first["job"]["id"]] + [
            server.call("POST", "/ai/run_circuits_on_qpu_or_simulator", json=body).json()["job"][
                "id"
            ]
            for _ in range(5)
        ]
        for job_id in jobs:
            done = server.call("GET", f"/jobs/{job_id}", params={"wait": 60}).json()
            assert done["status"] == "Done", done
            assert sum(done["counts"][0].values()) == 300
            claimed = [e for e in done["events"] if e["type"] == "Claimed"]
            assert len(claimed) == 1 and claimed[0]["worker"].split(":")[1] == str(worker.pid)
    finally:
        if worker is not None:
            stop(worker)
        server.stop()
