"""An agent asks what its runs used and cost (the MCP tool `get_usage`): the same document as
`GET /usage`, a short summary, and a refusal naming `period` for what is not a month."""

from __future__ import annotations

import time
import uuid

import anyio
import httpx
from mcp import Client

from qorch.http.usage import UsageAnswer
from tests.conftest import BELL_QASM2
from tests.mcp.conftest import Agent, call, fail, text_of
from tests.mcp.scenarios import new_experiment


def test_an_agent_reads_the_same_usage_as_the_rest_api(agent: Agent):
    app = agent.server.service.app
    app.set_budget(uuid.UUID(agent.user_id), 20.0, "month", "ionq")
    month = time.strftime("%Y-%m", time.gmtime())

    async def scenario(client: Client) -> None:
        experiment = await new_experiment(client, "usage")
        job = await call(
            client,
            "run_circuits_on_qpu_or_simulator",
            experiment_id=experiment,
            circuits_qasm=[BELL_QASM2],
            shots=300,
        )
        done = await call(client, "get_job_results_and_status", job_id=job["job"]["id"], wait=60)
        assert done["job"]["status"] == "Done" and done["job"]["actual_cost"] is None

        usage = await call(client, "get_usage", period=month)
        rest = httpx.get(
            f"{agent.server.url}/usage",
            params={"period": month},
            headers={"Authorization": agent.key},
        ).json()
        context = usage.pop("context")
        assert usage == rest
        UsageAnswer.model_validate({**usage, "context": context})
        assert usage["totals"]["jobs"] == 1 and usage["totals"]["shots"] == 300
        assert f"Usage in {month}" in context and "budget left $20.00" in context

        default = await call(client, "get_usage")
        assert default["period"] == month

    async def connected() -> None:
        async with agent.connect() as client:
            await scenario(client)

    anyio.run(connected)


def test_a_period_that_is_not_a_month_is_refused_naming_period(agent: Agent):
    async def scenario(client: Client) -> None:
        for period in ("2026-13", "last month"):
            refused = await fail(client, "get_usage", period=period)
            assert "period" in text_of(refused)
        refused = await fail(client, "get_usage", period="2026-11", user_id="someone")
        assert "user_id" in text_of(refused)

    async def connected() -> None:
        async with agent.connect() as client:
            await scenario(client)

    anyio.run(connected)
