"""The MCP endpoint takes the REST API's keys, keeps users apart, and refuses bad input with
the HTTP API's messages while recording nothing."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter

from tests.conftest import BELL_QASM2
from tests.mcp.conftest import Agent, LiveServer, call, fail, new_agent, text_of

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


@pytest.mark.parametrize("key", [None, "qk_wrong", "Bearer qk_wrong"])
def test_a_missing_or_wrong_key_is_refused(queue_only: LiveServer, key: str | None):
    headers = {**MCP_HEADERS, **({"Authorization": key} if key else {})}
    answer = httpx.post(queue_only.url + "/mcp", json=INITIALIZE, headers=headers)
    assert answer.status_code == 401
    assert "API key" in answer.json()["error"]["message"]
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_the_sdk_client_with_a_wrong_key_cannot_connect(queue_only: LiveServer):
    impostor = Agent(queue_only, "nobody", "qk_wrong")

    async def scenario() -> None:
        async with impostor.connect() as client:
            await client.list_tools()

    with pytest.raises(BaseException) as raised:
        anyio.run(scenario)
    assert any(isinstance(leaf, MCPError) for leaf in leaves(raised.value)), raised.value


def test_the_key_is_accepted_raw_as_in_the_rest_api(queue_only: LiveServer):
    agent = new_agent(queue_only)
    answer = httpx.post(
        queue_only.url + "/mcp",
        json=INITIALIZE,
        headers={**MCP_HEADERS, "Authorization": agent.key},
    )
    assert answer.status_code == 200
    assert answer.headers["mcp-session-id"]


def test_a_session_is_usable_only_with_the_key_that_opened_it(queue_only: LiveServer):
    alice, bob = new_agent(queue_only), new_agent(queue_only)
    opened = httpx.post(
        queue_only.url + "/mcp",
        json=INITIALIZE,
        headers={**MCP_HEADERS, "Authorization": alice.key},
    )
    session = {"mcp-session-id": opened.headers["mcp-session-id"], **MCP_HEADERS}
    list_tools = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    hijack = httpx.post(
        queue_only.url + "/mcp", json=list_tools, headers={**session, "Authorization": bob.key}
    )
    assert hijack.status_code == 404
    as_alice = httpx.post(
        queue_only.url + "/mcp", json=list_tools, headers={**session, "Authorization": alice.key}
    )
    assert as_alice.status_code == 200


def test_one_users_job_is_not_readable_with_another_users_key(queue_only: LiveServer):
    alice, bob = new_agent(queue_only), new_agent(queue_only)

    async def scenario() -> None:
        async with alice.connect() as client:
            experiment_id = (await call(client, "create_experiment", name="a"))["experiment"]["id"]
            job = await call(
                client,
                "run_circuits_on_qpu_or_simulator",
                experiment_id=experiment_id,
                circuits_qasm=[BELL_QASM2],
            )
        job_id = job["job"]["id"]
        uri = f"job://{job_id}"
        async with bob.connect() as client:
            for tool in ("get_job_results_and_status", "cancel_job"):
                refused = await fail(client, tool, job_id=job_id)
                assert f"job {job_id} not found" in text_of(refused)
                assert refused.structured_content is not None
                assert refused.structured_content["error"]["code"] == "not_found"
            assert (await call(client, "list_jobs"))["jobs"] == []
            assert (await call(client, "list_experiments"))["experiments"] == []
            assert (await client.list_resources()).resources == []
            in_alices_experiment = await fail(
                client,
                "run_circuits_on_qpu_or_simulator",
                experiment_id=experiment_id,
                circuits_qasm=[BELL_QASM2],
            )
            assert "experiment_id: unknown experiment" in text_of(in_alices_experiment)
            with pytest.raises(MCPError, match="not found"):
                await client.read_resource(uri)
            with pytest.raises(MCPError, match="not found"):
                async with client.listen(resource_subscriptions=[uri]):
                    pass
        async with bob.connect(mode="legacy") as client:
            with pytest.raises(MCPError, match="not found"):
                await client.subscribe_resource(uri)
        async with alice.connect() as client:
            assert [r.uri for r in (await client.list_resources()).resources] == [uri]
            assert job_id in (await client.read_resource(uri)).contents[0].text  # type: ignore[union-attr]

    anyio.run(scenario)


TYPO_ON_LINE_5 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nhh q[0];\n'


def one_parameter_circuit() -> str:
    circuit = QuantumCircuit(1)
    circuit.ry(Parameter("theta"), 0)
    circuit.measure_all()
    return qasm3.dumps(circuit)


BAD_INPUT: list[tuple[str, dict[str, Any], str]] = [
    ("malformed QASM", {"circuits_qasm": [TYPO_ON_LINE_5]}, "circuits_qasm[0]: line 5"),
    (
        "unknown device",
        {"circuits_qasm": [BELL_QASM2], "device_id": "no_such_qpu"},
        "device_id: unknown device 'no_such_qpu'",
    ),
    (
        "wrong parameter shape",
        {"circuits_qasm": [one_parameter_circuit()], "parameters": [[0.1, 0.2]]},
        "parameters[0][0]: has 2 values but circuits[0] has 1 parameters",
    ),
    (
        "both circuit inputs",
        {"circuits_qasm": [BELL_QASM2], "circuit_ids": ["x"]},
        "exactly one",
    ),
    ("unknown run type", {"circuits_qasm": [BELL_QASM2], "run_type": "Fast"}, "run_type: "),
    ("unknown field", {"circuits_qasm": [BELL_QASM2], "shot": 10}, "shot: unknown field"),
]


@pytest.mark.parametrize(("case", "arguments", "problem"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_a_tool_error_naming_the_problem_and_nothing_is_recorded(
    queue_only: LiveServer, case: str, arguments: dict[str, Any], problem: str
):
    agent = new_agent(queue_only)

    async def scenario() -> None:
        async with agent.connect() as client:
            experiment_id = (await call(client, "create_experiment", name="b"))["experiment"]["id"]
            before = agent.log_position()
            refused = await fail(
                client, "run_circuits_on_qpu_or_simulator", experiment_id=experiment_id, **arguments
            )
            assert problem in text_of(refused)
            assert refused.structured_content is not None
            assert refused.structured_content["error"]["code"] == "invalid_request"
            assert agent.recorded_since(before) == []
            assert (await call(client, "list_jobs"))["jobs"] == []

    anyio.run(scenario)


def test_malformed_qasm_for_analytics_is_refused_and_not_stored(queue_only: LiveServer):
    agent = new_agent(queue_only)

    async def scenario() -> None:
        async with agent.connect() as client:
            experiment_id = (await call(client, "create_experiment", name="c"))["experiment"]["id"]
            before = agent.log_position()
            refused = await fail(
                client,
                "submit_circuit_for_analytics",
                experiment_id=experiment_id,
                circuit_qasm=TYPO_ON_LINE_5,
            )
            assert "line 5" in text_of(refused)
            assert agent.recorded_since(before) == []
            missing = await fail(client, "submit_circuit_for_analytics", circuit_qasm=BELL_QASM2)
            assert "experiment_id: Field required" in text_of(missing)

    anyio.run(scenario)
