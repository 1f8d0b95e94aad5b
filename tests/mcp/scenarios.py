"""What an agent does through MCP, written once and run over both transports (Streamable HTTP in
test_mcp_tools.py, stdio in test_mcp_stdio.py). Each takes a connected SDK client."""

from __future__ import annotations

import math
from typing import Any

import anyio
import numpy as np
from mcp import Client
from pydantic import BaseModel
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.circuit import Gate, Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector

from qorch.http import schemas, usage
from tests.conftest import BELL_QASM2
from tests.mcp.conftest import call, fail, text_of

TOOLS: dict[str, type[BaseModel]] = {
    "list_qpus_and_simulators": schemas.DeviceQuery,
    "run_circuits_on_qpu_or_simulator": schemas.RunCircuitsRequest,
    "get_job_results_and_status": schemas.JobQuery,
    "submit_circuit_for_analytics": schemas.AnalyticsRequest,
    "list_experiments": schemas.ExperimentsQuery,
    "create_experiment": schemas.CreateExperimentRequest,
    "cancel_job": schemas.JobIdRequest,
    "list_jobs": schemas.JobsQuery,
    "get_usage": usage.UsageQuery,
}


async def new_experiment(client: Client, name: str = "mcp tests") -> str:
    return (await call(client, "create_experiment", name=name))["experiment"]["id"]


async def tools_are_listed_with_the_http_wire_models_as_schemas(client: Client) -> None:
    listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(listed) == set(TOOLS)
    for name, model in TOOLS.items():
        assert listed[name].input_schema == model.model_json_schema(), name
        assert len(listed[name].description or "") > 150, name
    run = listed["run_circuits_on_qpu_or_simulator"]
    for constraint in ("exactly one of circuits_qasm", "StatevectorRun", "credentials"):
        assert constraint in (run.description or "")
    assert run.output_schema == schemas.JobAnswer.model_json_schema()
    assert "wait" in (listed["get_job_results_and_status"].description or "")
    list_jobs, cancel = listed["list_jobs"].annotations, listed["cancel_job"].annotations
    assert list_jobs is not None and list_jobs.read_only_hint is True
    assert cancel is not None and cancel.destructive_hint is True


async def bell_circuit_runs_and_the_agent_waits_for_its_results(
    client: Client, qasm: str = BELL_QASM2
) -> None:
    submitted = await call(
        client,
        "run_circuits_on_qpu_or_simulator",
        experiment_id=await new_experiment(client),
        circuits_qasm=[qasm],
        shots=2000,
    )
    job_id = submitted["job"]["id"]
    assert job_id in submitted["context"]
    assert "get_job_results_and_status" in submitted["context"]
    result = await client.call_tool("get_job_results_and_status", {"job_id": job_id, "wait": 60})
    assert not result.is_error and result.structured_content is not None
    job = result.structured_content["job"]
    assert job["status"] == "Done", job
    [distribution] = job["quantum_results"]
    [counts] = job["counts"]
    assert set(distribution) <= {"00", "11"}
    assert sum(counts.values()) == 2000
    assert abs(distribution["00"] - 0.5) < 5 * math.sqrt(0.25 / 2000)
    assert f"Job {job_id}" in text_of(result) and "Done" in text_of(result)


SWEEP = [[0.1, 0.7], [1.3, -0.4], [2.9, 2.2]]
OBSERVABLES: list[list[Any]] = [[["ZZ", "XI"], [1.0, 0.5]], [["IY"], [2.0]]]


def rotations() -> list[QuantumCircuit]:
    a, b = Parameter("a"), Parameter("b")
    first = QuantumCircuit(2)
    first.ry(a, 0)
    first.cx(0, 1)
    first.rx(b, 1)
    second = QuantumCircuit(2)
    second.h(0)
    second.rz(a, 0)
    second.ry(b, 1)
    second.cz(0, 1)
    return [first, second]


def exact_values(circuit: QuantumCircuit) -> np.ndarray:
    """[observable][parameter_set], binding in circuit.parameters order."""
    values = np.zeros((len(OBSERVABLES), len(SWEEP)))
    for p, parameter_set in enumerate(SWEEP):
        state = Statevector(circuit.assign_parameters(parameter_set))
        for o, (labels, coefficients) in enumerate(OBSERVABLES):
            operator = SparsePauliOp.from_list(list(zip(labels, coefficients, strict=True)))
            values[o, p] = state.expectation_value(operator).real
    return values


async def two_circuits_two_observables_three_parameter_sets_nest_as_2x2x3(
    client: Client,
) -> None:
    circuits = rotations()
    submitted = await call(
        client,
        "run_circuits_on_qpu_or_simulator",
        experiment_id=await new_experiment(client),
        circuits_qasm=[qasm3.dumps(c) for c in circuits],
        parameters=[SWEEP, SWEEP],
        observables=[OBSERVABLES, OBSERVABLES],
        shots=4096,
    )
    answer = await call(
        client, "get_job_results_and_status", job_id=submitted["job"]["id"], wait=60
    )
    assert "circuit → observable → parameter set" in answer["context"]
    job = answer["job"]
    assert job["status"] == "Done", job
    results = np.array(job["quantum_results"])
    errors = np.array(job["info"]["uncertainty"])
    assert results.shape == errors.shape == (2, 2, 3)
    for c, circuit in enumerate(circuits):
        assert np.all(np.abs(results[c] - exact_values(circuit)) <= 5 * errors[c])


async def dry_run_estimates_without_executing(client: Client) -> None:
    submitted = await call(
        client,
        "run_circuits_on_qpu_or_simulator",
        experiment_id=await new_experiment(client),
        circuits_qasm=[BELL_QASM2],
        device_id="fake_manila",
        dry_run=True,
    )
    assert "dry run" in submitted["context"]
    answer = await call(
        client, "get_job_results_and_status", job_id=submitted["job"]["id"], wait=60
    )
    assert "Nothing was executed" in answer["context"]
    job = answer["job"]
    assert job["status"] == "Done" and job["quantum_results"] == []
    assert job["estimated_qpu_cost"]["native"]["unit"] == "s"
    assert "Executed" not in [event["type"] for event in job["events"]]


KNOWN_CIRCUIT = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0],q[1];
barrier q;
rz(0.3) q[2];
ccx q[0],q[1],q[2];
reset q[1];
cx q[1],q[2];
measure q -> c;
"""


def qiskits_own_counts(source: str) -> dict[str, Any]:
    circuit = qasm2.loads(source, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    ops = circuit.count_ops()
    not_gates = {name: ops[name] for name in ("barrier", "measure", "reset") if name in ops}
    gates_total = sum(ops.values()) - sum(not_gates.values())
    return {
        "qubits": circuit.num_qubits,
        "clbits": circuit.num_clbits,
        "depth": circuit.depth(),
        "depth_2q": circuit.depth(
            lambda i: isinstance(i.operation, Gate) and i.operation.num_qubits > 1
        ),
        "gates_1q": gates_total - circuit.num_nonlocal_gates(),
        "gates_2q": circuit.num_nonlocal_gates(),
        "gates_total": gates_total,
        "other_ops": not_gates,
    }


async def analytics_metrics_equal_qiskits_own_counts(client: Client) -> None:
    experiment_id = await new_experiment(client)
    answer = await call(
        client,
        "submit_circuit_for_analytics",
        experiment_id=experiment_id,
        circuit_qasm=KNOWN_CIRCUIT,
        name="known",
    )
    expected = qiskits_own_counts(KNOWN_CIRCUIT)
    assert answer["circuit"]["metrics"] == expected
    assert expected["gates_2q"] == 3 and expected["depth"] == 7  # the circuit is what we think
    assert "qasm" not in answer["circuit"]  # the agent sent it: not echoed back
    for key, value in expected.items():
        assert f"{key}={value}" in answer["context"]

    again = await call(
        client,
        "submit_circuit_for_analytics",
        experiment_id=experiment_id,
        circuit_qasm=KNOWN_CIRCUIT,
    )
    assert again["circuit"]["id"] == answer["circuit"]["id"]  # stored once
    run = await call(
        client,
        "run_circuits_on_qpu_or_simulator",
        experiment_id=experiment_id,
        circuit_ids=[answer["circuit"]["id"]],
        shots=100,
    )
    assert run["job"]["circuit_ids"] == [answer["circuit"]["id"]]


async def a_queued_job_is_cancelled_and_its_subscriber_told(client: Client) -> None:
    """Needs a server without an executor, so that the job is still Queued when cancelled."""
    submitted = await call(
        client,
        "run_circuits_on_qpu_or_simulator",
        experiment_id=await new_experiment(client),
        circuits_qasm=[BELL_QASM2],
    )
    job_id = submitted["job"]["id"]
    assert submitted["job"]["status"] == "Queued"
    uri = f"job://{job_id}"
    async with client.listen(resource_subscriptions=[uri]) as subscription:
        cancelled = await call(client, "cancel_job", job_id=job_id)
        with anyio.fail_after(10):
            event = await subscription.__anext__()
    assert getattr(event, "uri", None) == uri
    assert cancelled["job"]["status"] == "Cancelled"
    assert "no results will be recorded" in cancelled["context"]

    again = await fail(client, "cancel_job", job_id=job_id)
    assert "already Cancelled" in text_of(again)
    assert again.structured_content is not None
    assert again.structured_content["error"]["code"] == "conflict"
    status = await call(client, "get_job_results_and_status", job_id=job_id, wait=5)
    assert status["job"]["status"] == "Cancelled"
