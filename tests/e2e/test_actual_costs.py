"""A user runs on an IonQ QPU through a real `qorch serve`, the real IonQ client pointed at the
loopback fake: the job records the cost IonQ answered, shown next to the estimate, and the REST
usage, the MCP tool `get_usage` and `qorch usage` all count it alike."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import httpx
import pytest
from mcp import Client as McpClient
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from qorch.bootstrap import open_application
from qorch.domain.job import Job
from qorch.settings import Settings
from tests.e2e.servers import Server, free_port
from tests.e2e.test_providers import IONQ, IONQ_KEY, Client
from tests.fakes.ionq_api import FakeIonQ

pytestmark = pytest.mark.slow
CONTRACT_RATE_USD = 3.21
"""What the fake IonQ bills every job: a rate qorch's price table cannot know."""


@pytest.fixture
def ionq_api() -> Iterator[FakeIonQ]:
    with FakeIonQ(IONQ_KEY) as fake:
        yield fake


@pytest.fixture
def server(tmp_path: Path, ionq_api: FakeIonQ) -> Iterator[Server]:
    env = {
        "QORCH_IONQ_API_URL": ionq_api.url,
        "QORCH_PROVIDER_POLL_INTERVAL": "0.1",
        "QORCH_PROVIDER_CALL_TIMEOUT": "30",
    }
    server = Server(tmp_path, free_port(), env=env)
    server.start()
    yield server
    server.stop()


def recorded_cost(data_dir: Path, job_id: str) -> Any:
    app = open_application(Settings(data_dir=data_dir))
    try:
        [executed] = [
            event
            for event in app.repository.event_store.get(UUID(job_id))
            if isinstance(event, Job.Executed)
        ]
        return executed.cost
    finally:
        app.close()


def mcp_usage(server: Server, period: str) -> dict[str, Any]:
    async def ask() -> dict[str, Any]:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {server.key}"})
        async with http:
            transport = streamable_http_client(server.url + "/mcp", http_client=http)
            async with McpClient(transport) as client:
                result = await client.call_tool("get_usage", {"period": period})
        assert not result.is_error and result.structured_content is not None, result.content
        return dict(result.structured_content)

    return anyio.run(ask)


def cli_usage(server: Server, period: str) -> dict[str, Any]:
    printed = subprocess.run(
        [sys.executable, "-m", "qorch", "usage", "local", "--period", period, "--json"]
        + ["--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    answer: dict[str, Any] = json.loads(printed.stdout)
    return answer


def test_the_cost_ionq_answered_is_recorded_and_every_usage_surface_counts_it(
    server: Server, ionq_api: FakeIonQ
):
    ionq_api.report_cost(CONTRACT_RATE_USD)
    client = Client(server)
    experiment = client.experiment()

    job = client.final(client.run(experiment, "ionq_aria_1", options=IONQ, shots=500))

    assert job["status"] == "Done", job.get("error")
    assert job["actual_cost"] == {
        "usd": CONTRACT_RATE_USD,
        "source": "reported",
        "tasks": 1,
        "shots": 500,
        "seconds": None,
    }
    [ionq_job] = ionq_api.jobs
    assert job["provider_job"]["ids"] == [ionq_job]
    assert recorded_cost(server.data_dir, job["id"]) == job["actual_cost"]  # in the log itself
    for_agents = client.call("GET", "/ai/get_job_results_and_status", params={"job_id": job["id"]})
    assert "It cost $3.21 (as the provider reported it)." in for_agents.json()["context"]

    period = time.strftime("%Y-%m", time.gmtime())
    rest = client.call("GET", "/usage", params={"period": period}).json()
    [row] = [row for row in rest["rows"] if row["device_id"] == "ionq_aria_1"]
    assert (row["provider"], row["jobs"], row["tasks"], row["shots"]) == ("ionq", 1, 1, 500)
    assert row["actual_usd"] == CONTRACT_RATE_USD
    [ionq] = [row for row in rest["providers"] if row["provider"] == "ionq"]
    assert ionq["actual_usd"] == CONTRACT_RATE_USD

    by_mcp = mcp_usage(server, period)
    assert by_mcp.pop("context").startswith(f"Usage in {period}")
    assert by_mcp == rest
    assert cli_usage(server, period) == rest

    with httpx.Client(base_url=server.url, follow_redirects=True) as browser:
        signed_in = browser.post("/dashboard/sign-in", data={"api_key": server.key})
        assert signed_in.status_code == 200, signed_in.text
        page = browser.get(f"/dashboard/jobs/{job['id']}").text
    assert '<dd id="job-actual-cost">3.21 USD (reported, 1 provider tasks, 500 shots)</dd>' in page
