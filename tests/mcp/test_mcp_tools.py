"""An agent drives qorch through the MCP endpoint (/mcp, Streamable HTTP) with the SDK's client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest
from mcp import Client

from tests.conftest import BELL_QASM2, BELL_QASM3
from tests.mcp import scenarios
from tests.mcp.conftest import Agent, LiveServer, call, fail, new_agent, text_of
from tests.mcp.scenarios import new_experiment

Scenario = Callable[[Client], Awaitable[None]]


def run_scenario(agent: Agent, scenario: Scenario, mode: str = "auto") -> None:
    async def connected() -> None:
        async with agent.connect(mode=mode) as client:
            await scenario(client)

    anyio.run(connected)


def test_tools_are_listed_with_the_http_wire_models_as_input_schemas(agent: Agent):
    run_scenario(agent, scenarios.tools_are_listed_with_the_http_wire_models_as_schemas)


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "initialize-handshake"])
@pytest.mark.parametrize("qasm", [BELL_QASM2, BELL_QASM3], ids=["qasm2", "qasm3"])
def test_bell_circuit_runs_and_the_agent_waits_for_its_results(agent: Agent, mode: str, qasm: str):
    async def scenario(client: Client) -> None:
        await scenarios.bell_circuit_runs_and_the_agent_waits_for_its_results(client, qasm)

    run_scenario(agent, scenario, mode)


def test_two_circuits_two_observables_three_parameter_sets_nest_as_2x2x3(agent: Agent):
    run_scenario(agent, scenarios.two_circuits_two_observables_three_parameter_sets_nest_as_2x2x3)


def test_dry_run_estimates_without_executing(agent: Agent):
    run_scenario(agent, scenarios.dry_run_estimates_without_executing)


def test_analytics_metrics_equal_qiskits_own_counts(agent: Agent):
    run_scenario(agent, scenarios.analytics_metrics_equal_qiskits_own_counts)


def test_a_queued_job_is_cancelled_and_its_subscriber_told(queue_only: LiveServer):
    run_scenario(new_agent(queue_only), scenarios.a_queued_job_is_cancelled_and_its_subscriber_told)


def test_experiments_jobs_and_devices_are_listed(agent: Agent):
    async def scenario(client: Client) -> None:
        assert "create_experiment" in (await call(client, "list_experiments"))["context"]
        first = await new_experiment(client, "first")
        second = await new_experiment(client, "second")
        listed = await call(client, "list_experiments", limit=1)
        assert [e["id"] for e in listed["experiments"]] == [second]
        listed = await call(client, "list_experiments", offset=1)
        assert [e["id"] for e in listed["experiments"]] == [first]

        job = await call(
            client,
            "run_circuits_on_qpu_or_simulator",
            experiment_id=first,
            circuits_qasm=[BELL_QASM2],
            dry_run=True,
        )
        rows = (await call(client, "list_jobs", experiment_id=first))["jobs"]
        assert [(row["id"], row["circuits"]) for row in rows] == [(job["job"]["id"], 1)]
        assert (await call(client, "list_jobs", experiment_id=second))["jobs"] == []

        devices = await call(client, "list_qpus_and_simulators")
        listed_devices = {d["id"]: d for d in devices["devices"]}
        assert listed_devices["aer_simulator"]["simulator"] is True
        assert "coupling_map" not in listed_devices["fake_manila"]
        assert listed_devices["fake_manila"]["coupling_map_edges"] > 0
        manila = await call(client, "list_qpus_and_simulators", device_id="fake_manila")
        [device] = manila["devices"]
        assert device["qubits"] == 5 and [0, 1] in device["coupling_map"]
        unknown = await fail(client, "list_qpus_and_simulators", device_id="no_such_qpu")
        assert "device no_such_qpu not found" in text_of(unknown)

    run_scenario(agent, scenario)
