"""A haiqu-sdk 1.7.0 user reads a job one of whose Braket tasks failed (the real Braket SDK on
the server side, against the loopback fake): `result()` answers the other circuits' results in
their places, `logs` says what failed and `info["errors"]` where."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.servers import Server, free_port
from tests.e2e.test_partial_results_braket import CIRCUITS, REASON, run_three
from tests.e2e.test_providers import AWS_KEY_ID, Client, provider_env
from tests.fakes.braket_api import FakeBraket
from tests.fakes.ionq_api import FakeIonQ

pytestmark = pytest.mark.slow
STORY = Path(__file__).with_name("partial_story.py")


@pytest.fixture
def partial_job(tmp_path: Path) -> Iterator[tuple[Server, dict[str, Any]]]:
    with FakeBraket(accepted_keys={AWS_KEY_ID}) as braket, FakeIonQ("unused") as ionq:
        server = Server(tmp_path, free_port(), env=provider_env(braket, ionq))
        server.start()
        try:
            braket.fail_next_tasks(1, REASON)
            job = run_three(Client(server))
            assert job["partial"], job
            yield server, job
        finally:
            server.stop()


def test_the_sdk_reads_a_partial_job_with_its_results_in_place(
    sdk_python: Path, partial_job: tuple[Server, dict[str, Any]]
):
    server, job = partial_job
    completed = subprocess.run(
        [str(sdk_python), str(STORY)],
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "HAIQU_API_KEY": server.key,
            "HAIQU_EDGE_URI": server.url,
            "QORCH_JOB_ID": job["id"],
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("SDK-STORY ")]
    assert completed.returncode == 0 and lines, completed.stdout[-4000:] + completed.stderr[-8000:]
    seen = json.loads(lines[-1].removeprefix("SDK-STORY "))

    assert (seen["type"], seen["status"]) == ("RunJobModel", "Done")
    assert seen["result"] == job["quantum_results"] and len(seen["result"]) == len(CIRCUITS)
    assert seen["errors"] == job["errors"]
    [failed] = [i for i, error in enumerate(seen["errors"]) if error is not None]
    assert seen["result"][failed] == {}
    assert seen["logs"].startswith(f"partial results: 1 execution(s) failed; first at [{failed}]")
