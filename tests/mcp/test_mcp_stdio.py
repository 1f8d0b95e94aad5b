"""`qorch mcp` as a real subprocess, driven by the SDK's stdio client."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from qorch.bootstrap import open_application
from qorch.settings import Settings
from tests.mcp import scenarios
from tests.mcp.conftest import call

pytestmark = pytest.mark.slow

ENV = {"QORCH_POLL_INTERVAL": "0.05", "QORCH_LOG_LEVEL": "WARNING", "QORCH_WORKER_CONCURRENCY": "1"}


def register(data_dir: Path, name: str) -> tuple[UUID, str]:
    app = open_application(Settings(data_dir=data_dir))
    try:
        return app.register_user(name)
    finally:
        app.close()


def owners_of_what_was_recorded(data_dir: Path) -> set[UUID]:
    app = open_application(Settings(data_dir=data_dir))
    try:
        notifications = app.recorder.select_notifications(start=None, limit=10_000)
        events = [app.mapper.to_domain_event(n) for n in notifications]
    finally:
        app.close()
    return {e.user_id for e in events if hasattr(e, "user_id")}


@asynccontextmanager
async def stdio_qorch(
    data_dir: Path, *args: str, errlog: Any = None, **env: str
) -> AsyncIterator[Client]:
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "qorch", "mcp", "--data-dir", str(data_dir), *args],
        env={**os.environ, **ENV, **env},
    )
    transport = stdio_client(parameters, errlog=errlog or sys.stderr)
    async with Client(transport, read_timeout_seconds=90) as client:
        yield client


def test_stdio_server_does_what_the_http_endpoint_does_for_the_keys_user(tmp_path: Path):
    alice, key = register(tmp_path, "alice")

    async def scenario() -> None:
        async with stdio_qorch(tmp_path, QORCH_API_KEY=key) as client:
            await scenarios.tools_are_listed_with_the_http_wire_models_as_schemas(client)
            await scenarios.bell_circuit_runs_and_the_agent_waits_for_its_results(client)
            await scenarios.two_circuits_two_observables_three_parameter_sets_nest_as_2x2x3(client)
            await scenarios.dry_run_estimates_without_executing(client)
            await scenarios.analytics_metrics_equal_qiskits_own_counts(client)

    anyio.run(scenario)
    assert owners_of_what_was_recorded(tmp_path) == {alice}  # all done as the key's user


def test_stdio_server_without_a_key_acts_as_the_local_user_and_cancels(tmp_path: Path):
    async def scenario() -> None:
        async with stdio_qorch(tmp_path, "--no-worker") as client:
            await scenarios.a_queued_job_is_cancelled_and_its_subscriber_told(client)
        async with stdio_qorch(tmp_path, "--no-worker", "--user", "local") as client:
            listed = await call(client, "list_experiments")
            assert [e["name"] for e in listed["experiments"]] == ["mcp tests"]

    anyio.run(scenario)


def test_stdio_server_refuses_a_wrong_key(tmp_path: Path):
    register(tmp_path, "alice")
    errors = tmp_path / "stderr.txt"

    async def scenario() -> None:
        with errors.open("w") as errlog:
            async with stdio_qorch(tmp_path, "--key", "qk_wrong", errlog=errlog) as client:
                await client.list_tools()

    with pytest.raises(BaseException):  # noqa: B017 - the SDK reports a closed connection
        anyio.run(scenario)
    assert "API key" in errors.read_text()
