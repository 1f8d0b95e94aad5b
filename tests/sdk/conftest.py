"""The haiqu-sdk 1.7.0 in its own virtual environment (it pins qiskit<2.6, so it cannot share
ours), and real qorch servers on loopback for it to talk to.

The environment is cached in .cache/haiqu-sdk-venv (QORCH_SDK_VENV overrides) and built once,
under a file lock, when missing; a fresh CI machine builds it from nothing. Under CI=true a
failed build fails the suite instead of skipping it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.servers import Server, free_port

ROOT = Path(__file__).resolve().parents[2]
SDK_REQUIREMENT = "haiqu-sdk==1.7.0"
VENV = Path(os.environ.get("QORCH_SDK_VENV", ROOT / ".cache" / "haiqu-sdk-venv"))
READY = VENV / ".qorch-ready"
STORY = Path(__file__).with_name("sdk_story.py")


def build_venv() -> Path:
    """The SDK's python, building its environment first if needed (once, across processes)."""
    python = VENV / "bin" / "python"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / "haiqu-sdk-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if READY.exists() and READY.read_text() == SDK_REQUIREMENT:
            return python
        shutil.rmtree(VENV, ignore_errors=True)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", SDK_REQUIREMENT],
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        READY.write_text(SDK_REQUIREMENT)
        print(f"built the haiqu-sdk environment in {time.monotonic() - started:.0f} s")
    return python


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    try:
        return build_venv()
    except subprocess.CalledProcessError as error:
        message = f"cannot install {SDK_REQUIREMENT}: {error}\n{error.stdout or ''}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


def start_server(tmp: Path, *args: str) -> Server:
    server = Server(tmp, free_port(), *args)
    server.start()
    return server


@pytest.fixture(scope="session")
def qorch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("sdk-qorch"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server without an executor: its jobs stay Queued until cancelled."""
    server = start_server(tmp_path_factory.mktemp("sdk-idle"), "--no-worker")
    yield server
    server.stop()


def run_story(python: Path, server: Server, part: str, **env: str) -> dict[str, Any]:
    """Runs one part of sdk_story.py with the SDK pointed at the server; answers what it saw."""
    completed = subprocess.run(
        [str(python), str(STORY), part],
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "HAIQU_API_KEY": server.key,
            "HAIQU_EDGE_URI": server.url,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("SDK-STORY ")]
    assert completed.returncode == 0 and lines, completed.stdout[-4000:] + completed.stderr[-8000:]
    story: dict[str, Any] = json.loads(lines[-1].removeprefix("SDK-STORY "))
    return story


BELL_QASM = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
    "h q[0];\ncx q[0],q[1];\nmeasure q -> c;\n"
)


@pytest.fixture(scope="session")
def qorch_job(qorch_server: Server) -> dict[str, Any]:
    """A Bell job submitted through qorch's own agent surface, finished."""
    experiment = qorch_server.call("POST", "/experiments", json={"name": "agent"}).json()
    submitted = qorch_server.call(
        "POST",
        "/ai/run_circuits_on_qpu_or_simulator",
        json={"experiment_id": experiment["id"], "circuits_qasm": [BELL_QASM], "shots": 1000},
    )
    assert submitted.status_code == 201, submitted.text
    job: dict[str, Any] = qorch_server.call(
        "GET", f"/jobs/{submitted.json()['job']['id']}", params={"wait": 60}
    ).json()
    assert job["status"] == "Done", job
    return job


@pytest.fixture(scope="session")
def story(sdk_python: Path, qorch_server: Server, qorch_job: dict[str, Any]) -> dict[str, Any]:
    return run_story(sdk_python, qorch_server, "main", QORCH_JOB_ID=qorch_job["id"])


@pytest.fixture(scope="session")
def cancel_story(sdk_python: Path, idle_server: Server) -> dict[str, Any]:
    return run_story(sdk_python, idle_server, "cancel")
