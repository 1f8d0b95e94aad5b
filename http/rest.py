"""Plain REST reads and a few commands: jobs, experiments, circuits, devices, a job's audit log.

Queries are parsed with the same pydantic models as the MCP tools' arguments, paging 100 rows
by default (MCP: 20); unknown query parameters are ignored.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qorch.http import commands, queries
from qorch.http.auth import user_of
from qorch.http.context import query_of, service_of
from qorch.http.errors import json_response, parse_body
from qorch.http.schemas import (
    CreateExperimentRequest,
    JobQuery,
    JobsQuery,
    Page,
    with_page_size,
)

PAGE_SIZE = 100
JOBS = with_page_size(JobsQuery, PAGE_SIZE)
PAGE = with_page_size(Page, PAGE_SIZE)


def _listed(name: str, docs: list[dict[str, Any]], page: Page) -> JSONResponse:
    return JSONResponse({name: docs, "limit": page.limit, "offset": page.offset})


async def get_job(request: Request) -> JSONResponse:
    user = user_of(request)
    query = query_of(request, JobQuery, strict=False, job_id=request.path_params["job_id"])
    return await json_response(await queries.job_status(service_of(request), user, query))


async def list_jobs(request: Request) -> JSONResponse:
    user = user_of(request)
    query = query_of(request, JOBS, strict=False)
    return _listed("jobs", queries.job_list(service_of(request), user, query), query)


async def cancel_job(request: Request) -> JSONResponse:
    user = user_of(request)
    job_id = request.path_params["job_id"]
    await commands.cancel_job(service_of(request), user, job_id)
    return JSONResponse(await queries.job(service_of(request), user, job_id))


async def get_job_events(request: Request) -> JSONResponse:
    user = user_of(request)
    job_id = request.path_params["job_id"]
    entries = await queries.job_events(service_of(request), user, job_id)
    return JSONResponse({"job_id": job_id, "events": entries})


async def list_experiments(request: Request) -> JSONResponse:
    user = user_of(request)
    page = query_of(request, PAGE, strict=False)
    return _listed("experiments", queries.experiment_list(service_of(request), user, page), page)


async def create_experiment(request: Request) -> JSONResponse:
    user = user_of(request)
    body = await parse_body(request, CreateExperimentRequest)
    doc = await commands.create_experiment(
        service_of(request), user, body.name, body.description, body.tags
    )
    return JSONResponse(doc, status_code=201)


async def get_experiment(request: Request) -> JSONResponse:
    user = user_of(request)
    experiment_id = request.path_params["experiment_id"]
    return JSONResponse(queries.experiment(service_of(request), user, experiment_id))


async def list_experiment_circuits(request: Request) -> JSONResponse:
    user = user_of(request)
    page = query_of(request, PAGE, strict=False)
    experiment_id = request.path_params["experiment_id"]
    docs = queries.circuit_list(service_of(request), user, experiment_id, page.limit, page.offset)
    return _listed("circuits", docs, page)


async def get_circuit(request: Request) -> JSONResponse:
    user = user_of(request)
    circuit_id = request.path_params["circuit_id"]
    return JSONResponse(queries.circuit(service_of(request), user, circuit_id))


async def list_devices(request: Request) -> JSONResponse:
    user_of(request)
    return JSONResponse({"devices": await queries.devices(service_of(request))})


async def health(request: Request) -> JSONResponse:
    return JSONResponse(queries.health(service_of(request)))


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/jobs/{job_id}/cancel", cancel_job, methods=["POST"]),
    Route("/jobs/{job_id}/events", get_job_events, methods=["GET"]),
    Route("/experiments", list_experiments, methods=["GET"]),
    Route("/experiments", create_experiment, methods=["POST"]),
    Route("/experiments/{experiment_id}", get_experiment, methods=["GET"]),
    Route("/experiments/{experiment_id}/circuits", list_experiment_circuits, methods=["GET"]),
    Route("/circuits/{circuit_id}", get_circuit, methods=["GET"]),
    Route("/devices", list_devices, methods=["GET"]),
]
