"""An agent whose user has a budget: a run on a paid device past what is left is a tool error
naming the estimate, what is left and the period (the HTTP API's 402 body), and nothing is
recorded; the run it can afford goes through."""

from __future__ import annotations

from uuid import UUID

import anyio
from mcp import Client

from tests.conftest import BELL_QASM2
from tests.mcp.conftest import LiveServer, call, fail, new_agent, text_of
from tests.mcp.scenarios import new_experiment

AWS = {"aws_access_key_id": "AKIAFAKEKEYID0000042", "aws_secret_access_key": "wJalrXUtnFEMIK7M"}


def test_a_run_past_the_budget_is_a_clear_tool_error_and_records_nothing(queue_only: LiveServer):
    agent = new_agent(queue_only)  # no executor: an accepted paid job stays queued, unsent
    queue_only.service.app.set_budget(UUID(agent.user_id), 5, period="month", provider="braket")

    async def scenario(client: Client) -> None:
        experiment = await new_experiment(client, "paid")
        run = {
            "experiment_id": experiment,
            "circuits_qasm": [BELL_QASM2],
            "device_id": "braket_ionq_forte",
            "options": AWS,
        }
        before = agent.log_position()
        refused = await fail(client, "run_circuits_on_qpu_or_simulator", **run, shots=100)

        assert refused.structured_content is not None
        error = refused.structured_content["error"]
        assert (error["code"], error["field"]) == ("budget_exceeded", "device_id")
        assert "estimated at $8.30" in error["message"]
        assert "$5.00 of $5.00 on braket this month" in error["message"]
        assert text_of(refused).startswith("Error 402 budget_exceeded: device_id: ")
        assert agent.recorded_since(before) == []

        accepted = await call(client, "run_circuits_on_qpu_or_simulator", **run, shots=10)
        assert accepted["job"]["device_id"] == "braket_ionq_forte"

    async def connected() -> None:
        async with agent.connect() as client:
            await scenario(client)

    anyio.run(connected)
