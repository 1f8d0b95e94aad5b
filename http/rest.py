"""Plain REST reads and a few commands: jobs, experiments, circuits, devices, a job's audit log.

Queries are parsed with the same pydantic models as the MCP tools' arguments, paging 100 rows
by default (MCP: 20); unknown query parameters are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from qorch.bootstrap import Service
from qorch.domain.user import User
from qorch.http import commands, queries
from qorch.http.auth import user_of
from qorch.http.context import query_of, service_of
from qorch.http.errors import parse_body
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
P = TypeVar("P", bound=Page)


def _listed(
    request: Request, name: str, model: type[P], read: Callable[[Service, User, P], list[Any]]
) -> JSONResponse:
    """One page of the caller's `name`, read with the query parsed as `model`."""
    page = query_of(request, model, strict=False)
    docs = read(service_of(request), user_of(request), page)
    return JSONResponse({name: docs, "limit": page.limit, "offset": page.offset})


async def get_job(request: Request) -> Response:
    user = user_of(request)
    query = query_of(request, JobQuery, strict=False, job_id=request.path_params["job_id"])
    body = await queries.job_status_json(service_of(request), user, query)
    return Response(body, media_type="application/json")


async def list_jobs(request: Request) -> JSONResponse:
    return _listed(request, "jobs", JOBS, queries.job_list)


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
    return _listed(request, "experiments", PAGE, queries.experiment_list)


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
    experiment_id = request.path_params["experiment_id"]
    return _listed(
        request,
        "circuits",
        PAGE,
        lambda service, user, page: queries.circuit_list(
            service, user, experiment_id, page.limit, page.offset
        ),
    )


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
