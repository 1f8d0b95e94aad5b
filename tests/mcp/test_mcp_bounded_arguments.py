"""Integer tool arguments are bounded before use: a huge offset is a tool error (422), never
an internal error."""

from __future__ import annotations

import anyio
import pytest

from tests.mcp.conftest import LiveServer, call, fail, new_agent


@pytest.mark.parametrize("tool", ["list_jobs", "list_experiments"])
@pytest.mark.parametrize("argument", ["offset", "limit"])
def test_mcp_list_tools_refuse_a_huge_offset(queue_only: LiveServer, tool: str, argument: str):
    agent = new_agent(queue_only)

    async def scenario() -> None:
        async with agent.connect() as client:
            refused = await fail(client, tool, **{argument: 10**20})
            assert refused.structured_content is not None
            assert refused.structured_content["error"]["code"] == "invalid_request"
            assert refused.structured_content["error"]["field"] == argument
            assert (await call(client, tool, offset=10**6))[tool.removeprefix("list_")] == []

    anyio.run(scenario)


def test_mcp_job_results_refuse_a_huge_circuit_offset(queue_only: LiveServer):
    agent = new_agent(queue_only)

    async def scenario() -> None:
        async with agent.connect() as client:
            refused = await fail(
                client, "get_job_results_and_status", job_id="x", circuit_offset=10**20
            )
            assert refused.structured_content is not None
            assert refused.structured_content["error"]["field"] == "circuit_offset"

    anyio.run(scenario)
