"""Large results come in pages an agent can take in, with the complete job at job://{id}; job
resources notify subscribers when a job's status changes (2026-07-28 `subscriptions/listen`: see
scenarios.a_queued_job_is_cancelled_and_its_subscriber_told; `resources/subscribe` below)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import mcp_types as types
from qiskit import QuantumCircuit, qasm3

from qorch.http.mcp_answers import MAX_ANSWER_CHARS
from tests.conftest import BELL_QASM2
from tests.mcp.conftest import Agent, LiveServer, call, new_agent, size_of, text_of


def uniform(qubits: int, angle: float = 0.0) -> str:
    circuit = QuantumCircuit(qubits)
    circuit.h(range(qubits))
    circuit.rz(angle, 0)
    circuit.measure_all()
    return qasm3.dumps(circuit)


async def complete_job(client: Any, job_id: str) -> dict[str, Any]:
    resource = await client.read_resource(f"job://{job_id}")
    [contents] = resource.contents
    assert contents.mime_type == "application/json"
    return json.loads(contents.text)


async def run_and_wait(client: Any, circuits: list[str], shots: int) -> str:
    experiment = await call(client, "create_experiment", name="large")
    submitted = await call(
        client,
        "run_circuits_on_qpu_or_simulator",
        experiment_id=experiment["experiment"]["id"],
        circuits_qasm=circuits,
        shots=shots,
    )
    job_id = submitted["job"]["id"]
    done = await call(client, "get_job_results_and_status", job_id=job_id, wait=60)
    assert done["job"]["status"] == "Done", done
    return job_id


def test_large_results_are_paged_by_circuit(agent: Agent):
    circuits = [uniform(7, 0.1 * i) for i in range(10)]

    async def scenario() -> None:
        async with agent.connect() as client:
            job_id = await run_and_wait(client, circuits, shots=4000)
            complete = await complete_job(client, job_id)
            assert len(json.dumps(complete)) > 3 * MAX_ANSWER_CHARS, "not large enough"

            pages: list[dict[str, Any]] = []
            offset: int | None = 0
            while offset is not None:
                result = await client.call_tool(
                    "get_job_results_and_status", {"job_id": job_id, "circuit_offset": offset}
                )
                assert not result.is_error
                assert size_of(result) <= MAX_ANSWER_CHARS
                job = result.structured_content["job"]  # type: ignore[index]
                page = job["results_page"]
                assert page["circuit_offset"] == offset and page["circuits_returned"] > 0
                if page["next_circuit_offset"] is not None:
                    assert f"circuit_offset={page['next_circuit_offset']}" in text_of(result)
                pages.append(job)
                offset = page["next_circuit_offset"]
            http = httpx.get(
                agent.server.url + "/ai/get_job_results_and_status",
                params={"job_id": job_id, "circuit_offset": 2, "circuit_limit": 3},
                headers={"Authorization": agent.key},
            )

        assert len(pages) > 2
        assert [r for page in pages for r in page["quantum_results"]] == complete["quantum_results"]
        assert [c for page in pages for c in page["counts"]] == complete["counts"]
        # the same paging on the HTTP agent endpoint
        assert http.json()["job"]["quantum_results"] == complete["quantum_results"][2:5]
        assert http.json()["job"]["results_page"]["next_circuit_offset"] == 5

    anyio.run(scenario)


def test_a_circuit_too_large_for_one_answer_is_left_out_and_the_resource_holds_it(agent: Agent):
    async def scenario() -> None:
        async with agent.connect() as client:
            job_id = await run_and_wait(client, [uniform(12)], shots=20_000)
            result = await client.call_tool("get_job_results_and_status", {"job_id": job_id})
            complete = await complete_job(client, job_id)

        assert not result.is_error and result.structured_content is not None
        assert size_of(result) <= MAX_ANSWER_CHARS
        job = result.structured_content["job"]
        assert job["quantum_results"] == [] and job["results_page"]["circuits_returned"] == 0
        assert job["omitted"] == ["results of circuit 0 (too large for one answer)"]
        assert f"job://{job_id}" in text_of(result)
        assert len(complete["quantum_results"][0]) > 3000  # the resource has every outcome

    anyio.run(scenario)


async def queued_job(client: Any) -> str:
    experiment = await call(client, "create_experiment", name="updates")
    submitted = await call(
        client,
        "run_circuits_on_qpu_or_simulator",
        experiment_id=experiment["experiment"]["id"],
        circuits_qasm=[BELL_QASM2],
    )
    return submitted["job"]["id"]


def test_a_resources_subscribe_session_is_told_when_a_job_changes(queue_only: LiveServer):
    agent = new_agent(queue_only)
    updated: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updated.append(message.params.uri)

    async def scenario() -> None:
        async with agent.connect(mode="legacy", message_handler=on_message) as client:
            assert client.server_capabilities.resources is not None
            assert client.server_capabilities.resources.subscribe is True
            job_id = await queued_job(client)
            await client.subscribe_resource(f"job://{job_id}")
            await call(client, "cancel_job", job_id=job_id)
            with anyio.fail_after(10):
                while not updated:
                    await anyio.sleep(0.02)
            assert updated == [f"job://{job_id}"]

    anyio.run(scenario)
