"""A haiqu-sdk user runs a Qiskit circuit with two classical registers of different sizes and
reads the same bitstrings as HTTP and MCP answer: the first-declared register rightmost, no
spaces (register_story.py runs in the SDK's own environment)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.servers import Server

STORY = Path(__file__).with_name("register_story.py")


@pytest.fixture(scope="module")
def story(sdk_python: Path, qorch_server: Server) -> dict[str, Any]:
    completed = subprocess.run(
        [str(sdk_python), str(STORY)],
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "HAIQU_API_KEY": qorch_server.key,
            "HAIQU_EDGE_URI": qorch_server.url,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("SDK-STORY ")]
    assert completed.returncode == 0 and lines, completed.stdout[-4000:] + completed.stderr[-8000:]
    answered: dict[str, Any] = json.loads(lines[-1].removeprefix("SDK-STORY "))
    return answered


def test_the_sdk_reads_two_registers_as_one_bitstring_first_register_rightmost(
    story: dict[str, Any],
):
    assert story["result"] == [{"11001": 1.0}, {"01110": 1.0}]
    assert story["legacy_result"] == [{"11001": 1.0}]


def test_http_answers_the_sdks_job_with_the_same_bitstrings(
    story: dict[str, Any], qorch_server: Server
):
    job = qorch_server.call("GET", f"/jobs/{story['id']}").json()

    assert job["quantum_results"] == story["result"]
    assert job["counts"] == [{"11001": 100}, {"01110": 100}]
