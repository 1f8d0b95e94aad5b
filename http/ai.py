"""The agent surface: /ai/... endpoints answering a `context` text plus structured data."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qorch.domain.requests import RunRequest
from qorch.http.auth import current_user
from qorch.http.errors import parse_body, validated
from qorch.http.presenters import status_context, submitted_context
from qorch.http.reads import await_recorded, read_job
from qorch.http.schemas import AnalyticsRequest, JobQuery, RunCircuitsRequest
from qorch.projections import circuits
from qorch.service import Service


async def run_circuits_on_qpu_or_simulator(request: Request) -> JSONResponse:
    user = await current_user(request)
    body = await parse_body(request, RunCircuitsRequest)
    service: Service = request.app.state.service
    run = RunRequest(**body.model_dump())
    recorded = await anyio.to_thread.run_sync(service.app.submit_job, user.id, run)
    await await_recorded(service, recorded.position)
    job = await read_job(service, user.id, str(recorded.id))
    return JSONResponse({"context": submitted_context(job), "job": job}, status_code=201)


async def get_job_results_and_status(request: Request) -> JSONResponse:
    user = await current_user(request)
    if request.method == "POST":
        query = await parse_body(request, JobQuery)
    else:
        query = validated(JobQuery, dict(request.query_params))
    job = await read_job(request.app.state.service, user.id, query.job_id, query.wait)
    return JSONResponse({"context": status_context(job), "job": job})


async def list_qpus_and_simulators(request: Request) -> JSONResponse:
    await current_user(request)
    service: Service = request.app.state.service
    devices = [device.as_dict() for device in service.catalogue.list()]
    simulators = sum(1 for device in devices if device["simulator"])
    context = (
        f"{len(devices)} devices ({simulators} simulators). Pass an id as device_id to "
        "run_circuits_on_qpu_or_simulator; a circuit must not have more qubits than its device."
    )
    return JSONResponse({"context": context, "devices": devices})


async def submit_circuit_for_analytics(request: Request) -> JSONResponse:
    user = await current_user(request)
    body = await parse_body(request, AnalyticsRequest)
    service: Service = request.app.state.service
    circuit, recorded = await anyio.to_thread.run_sync(
        service.app.store_circuit, user.id, body.experiment_id, body.circuit_qasm, body.name
    )
    if recorded is not None:
        await await_recorded(service, recorded.position)
    doc = circuits.get_circuit(service.views.connection(), str(user.id), str(circuit.id))
    assert doc is not None
    metrics = ", ".join(f"{key}={value}" for key, value in doc["metrics"].items())
    context = f"Circuit {circuit.id} stored in experiment {body.experiment_id}: {metrics}."
    return JSONResponse({"context": context, "circuit": doc})


routes = [
    Route(
        "/ai/run_circuits_on_qpu_or_simulator", run_circuits_on_qpu_or_simulator, methods=["POST"]
    ),
    Route("/ai/get_job_results_and_status", get_job_results_and_status, methods=["GET", "POST"]),
    Route("/ai/list_qpus_and_simulators", list_qpus_and_simulators, methods=["GET", "POST"]),
    Route("/ai/submit_circuit_for_analytics", submit_circuit_for_analytics, methods=["POST"]),
]
