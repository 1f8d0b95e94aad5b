"""An agent reads a two-register circuit's outcome through MCP exactly as HTTP answers it: one
bitstring per shot, the first-declared register rightmost, no spaces."""

from __future__ import annotations

import anyio
from mcp import Client

from tests.http.test_register_bitstrings import A_THEN_B_QASM2, A_THEN_B_QASM3, B_THEN_A
from tests.mcp.conftest import Agent, call, text_of
from tests.mcp.scenarios import new_experiment


async def two_registers_read_as_http_reads_them(client: Client) -> None:
    submitted = await call(
        client,
        "run_circuits_on_qpu_or_simulator",
        experiment_id=await new_experiment(client),
        circuits_qasm=[A_THEN_B_QASM2, A_THEN_B_QASM3, B_THEN_A],
        shots=100,
    )
    result = await client.call_tool(
        "get_job_results_and_status", {"job_id": submitted["job"]["id"], "wait": 60}
    )
    assert not result.is_error and result.structured_content is not None
    job = result.structured_content["job"]
    assert job["status"] == "Done", job
    assert job["counts"] == [{"11001": 100}, {"11001": 100}, {"01110": 100}]
    assert job["quantum_results"] == [{"11001": 1.0}, {"11001": 1.0}, {"01110": 1.0}]
    # The text an agent reads quotes the same keys.
    assert '[{"11001": 1.0}, {"11001": 1.0}, {"01110": 1.0}]' in text_of(result)


def test_two_registers_read_as_one_bitstring_over_mcp(agent: Agent):
    async def connected() -> None:
        async with agent.connect() as client:
            await two_registers_read_as_http_reads_them(client)

    anyio.run(connected)
