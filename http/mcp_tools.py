"""The MCP tools: names as the public service uses them, input schemas from the HTTP wire models
(http/schemas.py), each answering structured content plus a short text summary."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from pydantic import BaseModel

from qorch.bootstrap import Service
from qorch.domain.requests import Limits
from qorch.domain.user import User
from qorch.http import commands, queries, usage
from qorch.http.mcp_answers import fit_job, fit_rows, job_summary
from qorch.http.presenters import analytics_context, devices_context, submitted_context
from qorch.http.schemas import (
    AnalyticsRequest,
    CreateExperimentRequest,
    DeviceList,
    DeviceQuery,
    ExperimentsQuery,
    JobAnswer,
    JobIdRequest,
    JobQuery,
    JobsQuery,
    RunCircuitsRequest,
)
from qorch.projections.usage_report import context_of as usage_context

MAX_WAIT_SECONDS = 60.0
"""Longest a get_job_results_and_status call waits: below common MCP client call timeouts."""
JOB_ROW_FIELDS = (
    "id",
    "status",
    "device_id",
    "experiment_id",
    "run_type",
    "dry_run",
    "shots",
    "name",
    "creation_date",
    "finish_date",
)


@dataclass(frozen=True)
class Answer:
    structured: dict[str, Any]
    text: str


Handler = Callable[[Service, User, Any], Awaitable[Answer]]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    model: type[BaseModel]
    handler: Handler
    read_only: bool
    destructive: bool = False
    output: type[BaseModel] | None = None

    def as_tool(self) -> types.Tool:
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.model.model_json_schema(),
            output_schema=self.output.model_json_schema() if self.output else None,
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=self.read_only,
                destructive_hint=self.destructive,
                idempotent_hint=self.read_only,
                open_world_hint=False,
            ),
        )


async def list_qpus_and_simulators(service: Service, user: User, query: DeviceQuery) -> Answer:
    devices = await queries.devices(service, query)
    if query.device_id is None:
        devices = [_listed(device) for device in devices]
    context = devices_context(devices)
    return Answer({"context": context, "devices": devices}, context)


async def run_circuits_on_qpu_or_simulator(
    service: Service, user: User, body: RunCircuitsRequest
) -> Answer:
    job = fit_job(await commands.submit_run(service, user, body))
    context = submitted_context(job)
    return Answer({"context": context, "job": job}, context)


async def get_job_results_and_status(service: Service, user: User, query: JobQuery) -> Answer:
    wait = min(query.wait, MAX_WAIT_SECONDS)
    whole = query.model_copy(update={"wait": wait, "circuit_offset": 0, "circuit_limit": None})
    job = await queries.job_status(service, user, whole)
    job = fit_job(job, query.circuit_offset, query.circuit_limit)
    context = job_summary(job)
    return Answer({"context": context, "job": job}, context)


async def submit_circuit_for_analytics(
    service: Service, user: User, body: AnalyticsRequest
) -> Answer:
    circuit = await commands.analyse_circuit(service, user, body)
    shown = {key: value for key, value in circuit.items() if key != "qasm"}
    context = (
        f"{analytics_context(circuit)} Run it with circuit_ids=[{circuit['id']!r}] "
        "in run_circuits_on_qpu_or_simulator."
    )
    return Answer({"context": context, "circuit": shown}, context)


async def list_experiments(service: Service, user: User, query: ExperimentsQuery) -> Answer:
    rows, more = fit_rows(queries.experiment_list(service, user, query), query.offset)
    if rows:
        context = f"{len(rows)} experiment(s), newest first, from offset {query.offset}.{more}"
    else:
        context = "No experiments here: create one with create_experiment."
    return Answer({"context": context, "experiments": rows}, context)


async def create_experiment(service: Service, user: User, body: CreateExperimentRequest) -> Answer:
    experiment = await commands.create_experiment(
        service, user, body.name, body.description, body.tags
    )
    context = (
        f"Experiment {experiment['id']} ({experiment['name']!r}) created. Pass "
        f"experiment_id={experiment['id']!r} to run_circuits_on_qpu_or_simulator or "
        "submit_circuit_for_analytics."
    )
    return Answer({"context": context, "experiment": experiment}, context)


async def list_jobs(service: Service, user: User, query: JobsQuery) -> Answer:
    docs = queries.job_list(service, user, query)
    rows = [
        {**{key: doc.get(key) for key in JOB_ROW_FIELDS}, "circuits": len(doc["circuit_ids"])}
        for doc in docs
    ]
    rows, more = fit_rows(rows, query.offset)
    context = (
        f"{len(rows)} job(s), newest first, from offset {query.offset}; "
        f"get_job_results_and_status has a job's results.{more}"
        if rows
        else "No jobs match."
    )
    return Answer({"context": context, "jobs": rows}, context)


async def cancel_job(service: Service, user: User, body: JobIdRequest) -> Answer:
    await commands.cancel_job(service, user, body.job_id)
    job = fit_job(await queries.job(service, user, body.job_id))
    context = job_summary(job)
    return Answer({"context": context, "job": job}, context)


async def get_usage(service: Service, user: User, query: usage.UsageQuery) -> Answer:
    report = await usage.usage_of(service, user, query.period)
    rows, more = fit_rows(report["rows"], 0)
    context = usage_context(report)
    if more:
        context += f" Rows cut at {len(rows)} (by day, then device); GET /usage has them all."
    return Answer({"context": context, **report, "rows": rows}, context)


def _listed(device: dict[str, Any]) -> dict[str, Any]:
    coupling = device.get("coupling_map")
    listed = {key: value for key, value in device.items() if key != "coupling_map"}
    listed["coupling_map_edges"] = len(coupling) if coupling is not None else None
    return listed


def tool_specs(limits: Limits) -> list[ToolSpec]:
    return [
        ToolSpec(
            "list_qpus_and_simulators",
            "List QPUs and simulators",
            "List the devices that can run circuits: QPUs and simulators. Use it to choose a "
            "device_id for run_circuits_on_qpu_or_simulator or to check a device's qubit count, "
            "basis gates and noise. Returns {context, devices: [{id, name, qubits, simulator, "
            "noisy, status, supports_statevector, basis_gates, coupling_map_edges, ...}]}. The "
            "list leaves coupling maps out; pass device_id to get one device in full, coupling "
            "map included. A circuit must not have more qubits than its device. Without "
            "device_id the default device is aer_simulator (noiseless); fake_* devices are noisy "
            "simulators of real IBM QPUs and need no credentials.",
            DeviceQuery,
            list_qpus_and_simulators,
            read_only=True,
            output=DeviceList,
        ),
        ToolSpec(
            "run_circuits_on_qpu_or_simulator",
            "Run circuits on a QPU or simulator",
            "Submit circuits to run on a device. Answers at once with the job (its id and "
            "status Queued); fetch results with get_job_results_and_status (wait=30 waits for "
            "them). Give exactly one of circuits_qasm (OpenQASM 2.0 or 3.0 texts, stored in the "
            "experiment) or circuit_ids (circuits stored before, e.g. by "
            "submit_circuit_for_analytics). experiment_id is required: list_experiments or "
            "create_experiment gives one. run_type is 'Run' (sampling with shots; circuits "
            "need measurements unless observables are given) or 'StatevectorRun' (exact, "
            "final measurements dropped, at most "
            f"{limits.statevector_max_qubits} qubits on dense simulators; with observables on "
            "aer_simulator_matrix_product_state, exact expectation values up to its qubit "
            "count). parameters: [circuit][parameter_set]"
            "[value], bound in circuit.parameters order (sorted by name); for one circuit "
            "[parameter_set][value] is accepted. observables: [circuit][observable], each "
            "observable [pauli_strings, coefficients] in Qiskit order (the rightmost character "
            "acts on qubit 0). Results nest circuit -> observable -> parameter set. "
            "dry_run=true estimates the QPU cost without executing. Provider credentials go in "
            "options and are never recorded. Limits: "
            f"{limits.max_circuits} circuits, {limits.max_shots} shots. Bad input is refused "
            "with the field and the problem named, and nothing is recorded.",
            RunCircuitsRequest,
            run_circuits_on_qpu_or_simulator,
            read_only=False,
            output=JobAnswer,
        ),
        ToolSpec(
            "get_job_results_and_status",
            "Get job results and status",
            "Get a job's status and, once it is Done, its results. Set wait (seconds, at most "
            f"{MAX_WAIT_SECONDS:g}) to wait for the job to finish instead of polling: call it "
            "with wait=30 right after submitting. Status is Queued, Running, Done, Error (with "
            "error.code and error.message) or Cancelled. Returns {context (a short summary), "
            "job: {status, quantum_results, counts, info.uncertainty, error, "
            "estimated_qpu_cost, ...}}. quantum_results nests circuit -> observable (when "
            "observables were given) -> parameter set (when parameters were given): a "
            "probability dict per circuit for a Run (Qiskit bit order: bit 0 is the rightmost "
            "character), expectation values with observables, [re, im] amplitude lists for a "
            "StatevectorRun. Large results come in pages of circuits: results_page gives "
            "next_circuit_offset, to pass as circuit_offset on the next call (circuit_limit "
            "caps a page). A single circuit too large for one answer is left out and named in "
            "`omitted`; the resource job://{job_id} always holds the complete job.",
            JobQuery,
            get_job_results_and_status,
            read_only=True,
            output=JobAnswer,
        ),
        ToolSpec(
            "submit_circuit_for_analytics",
            "Store a circuit and analyse it",
            "Store one OpenQASM 2.0 or 3.0 circuit in an experiment and return its metrics, "
            "without running it: qubits, clbits, depth, depth_2q (depth counting multi-qubit "
            "gates only), gates_1q, gates_2q, gates_total (gates_1q + gates_2q) and other_ops "
            "(measure, barrier, reset, ... counted by name). Use it to inspect a circuit before "
            "choosing a device, or to store it once and run it later by id (circuit_ids in "
            "run_circuits_on_qpu_or_simulator); the same text stored twice in one experiment is "
            "one circuit with one id. Returns {context, circuit: {id, qubits, parameters, "
            "has_measurements, metrics, ...}}. Malformed QASM is refused with the line and the "
            "problem, and nothing is stored.",
            AnalyticsRequest,
            submit_circuit_for_analytics,
            read_only=False,
        ),
        ToolSpec(
            "list_experiments",
            "List experiments",
            "List your experiments, newest first: {context, experiments: [{id, name, "
            "description, tags, circuits_count, jobs_count, creation_date, last_action_date}]}. "
            "Use it to find an experiment_id for run_circuits_on_qpu_or_simulator or "
            "submit_circuit_for_analytics; create_experiment makes a new one. Paged with limit "
            "(default 20) and offset.",
            ExperimentsQuery,
            list_experiments,
            read_only=True,
        ),
        ToolSpec(
            "create_experiment",
            "Create an experiment",
            "Create an experiment: a named folder holding circuits and jobs. Every run and "
            "every stored circuit belongs to one; create one per task and reuse its id. "
            "Returns {context, experiment: {id, name, ...}}.",
            CreateExperimentRequest,
            create_experiment,
            read_only=False,
        ),
        ToolSpec(
            "cancel_job",
            "Cancel a job",
            "Cancel a job that is not final yet (Queued or Running): it ends Cancelled and no "
            "results are recorded. A job already Done, Error or Cancelled cannot be cancelled; "
            "the error says which status it has. Returns {context, job}.",
            JobIdRequest,
            cancel_job,
            read_only=False,
            destructive=True,
            output=JobAnswer,
        ),
        ToolSpec(
            "list_jobs",
            "List jobs",
            "List your jobs, newest first, one compact row each: {context, jobs: [{id, status, "
            "device_id, experiment_id, run_type, dry_run, shots, circuits, name, creation_date, "
            "finish_date}]}. Filters: experiment_id, status, device_id; paged with limit "
            "(default 20) and offset. Use it to find a job id again; "
            "get_job_results_and_status gives a job's results.",
            JobsQuery,
            list_jobs,
            read_only=True,
        ),
        ToolSpec(
            "get_usage",
            "Get usage and costs",
            "What your runs used and cost in one UTC month: {context, period, from, to, rows: "
            "[{day, provider, device_id, jobs, tasks, shots, estimated_usd, actual_usd}], "
            "providers: [{provider, ..., budget_left_usd}], totals, budget: [{provider, period, "
            "period_key, limit_usd, reserved_usd, spent_usd, left_usd}]}. A run counts on the "
            "day it ended (dry runs are not usage); actual_usd is what the provider reported, or "
            "its usage priced with qorch's price table; estimated_usd is what qorch reserved "
            "from your budget for it. period is YYYY-MM (default: this month). Use it before a "
            "paid run to see what your budget has left.",
            usage.UsageQuery,
            get_usage,
            read_only=True,
            output=usage.UsageAnswer,
        ),
    ]
