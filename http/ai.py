"""The agent surface: /ai/... endpoints answering a `context` text plus structured data."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qorch.http import commands, queries
from qorch.http.auth import user_of
from qorch.http.context import query_of, service_of
from qorch.http.errors import FastJSONResponse, json_response, parse_body
from qorch.http.presenters import (
    analytics_context,
    devices_context,
    status_context,
    submitted_context,
)
from qorch.http.schemas import AnalyticsRequest, DeviceQuery, JobQuery, RunCircuitsRequest


async def run_circuits_on_qpu_or_simulator(request: Request) -> JSONResponse:
    user = user_of(request)
    body = await parse_body(request, RunCircuitsRequest)
    key = request.headers.get("idempotency-key", "").strip()
    job = await commands.submit_run(service_of(request), user, body, key)
    answer = {"context": submitted_context(job), "job": job}
    if job.get("info") is None:  # no results yet: a small answer, not worth a thread
        return FastJSONResponse(answer, status_code=201)
    return await json_response(answer, 201)


async def get_job_results_and_status(request: Request) -> JSONResponse:
    user = user_of(request)
    if request.method == "POST":
        query = await parse_body(request, JobQuery)
    else:
        query = query_of(request, JobQuery)
    job = await queries.job_status(service_of(request), user, query)
    return await json_response({"context": status_context(job), "job": job})


async def list_qpus_and_simulators(request: Request) -> JSONResponse:
    user_of(request)
    query = None
    if request.method == "POST" and (await request.body()).strip():
        query = await parse_body(request, DeviceQuery)
    devices = await queries.devices(service_of(request), query)
    return JSONResponse({"context": devices_context(devices), "devices": devices})


async def submit_circuit_for_analytics(request: Request) -> JSONResponse:
    user = user_of(request)
    body = await parse_body(request, AnalyticsRequest)
    circuit = await commands.analyse_circuit(service_of(request), user, body)
    return JSONResponse({"context": analytics_context(circuit), "circuit": circuit})


routes = [
    Route(
        "/ai/run_circuits_on_qpu_or_simulator", run_circuits_on_qpu_or_simulator, methods=["POST"]
    ),
    Route("/ai/get_job_results_and_status", get_job_results_and_status, methods=["GET", "POST"]),
    Route("/ai/list_qpus_and_simulators", list_qpus_and_simulators, methods=["GET", "POST"]),
    Route("/ai/submit_circuit_for_analytics", submit_circuit_for_analytics, methods=["POST"]),
]
