"""Plain REST reads and a few commands: jobs, experiments, circuits, devices."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qorch import __version__
from qorch.domain.errors import NotFound
from qorch.http import operations
from qorch.http.auth import current_user
from qorch.http.errors import ApiError, json_response, parse_body
from qorch.http.reads import read_job
from qorch.http.schemas import MAX_OFFSET, CreateExperimentRequest
from qorch.projections import circuits, experiments, jobs
from qorch.projections.projector import set_aside_events
from qorch.service import Service

MAX_PAGE = 500


def _service(request: Request) -> Service:
    return request.app.state.service


def _number(request: Request, name: str, default: float, minimum: float = 0) -> float:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(422, "invalid_request", f"{raw!r} is not a number", name) from None
    if not math.isfinite(value):
        raise ApiError(422, "invalid_request", f"{raw!r} is not a finite number", name)
    if value < minimum:
        raise ApiError(422, "invalid_request", f"must be at least {minimum:g}", name)
    return value


def _integer(request: Request, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, "invalid_request", f"{raw!r} is not an integer", name) from None
    if not minimum <= value <= maximum:
        raise ApiError(422, "invalid_request", f"must be between {minimum} and {maximum}", name)
    return value


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ApiError(422, "invalid_request", "must be true or false", name)
    return raw in ("true", "1")


def _page(request: Request) -> tuple[int, int]:
    limit = _integer(request, "limit", 100, 1, MAX_PAGE)
    offset = _integer(request, "offset", 0, 0, MAX_OFFSET)
    return limit, offset


async def get_job(request: Request) -> JSONResponse:
    user = await current_user(request)
    wait = _number(request, "wait", 0.0)
    include_inputs = _flag(request, "include_inputs")
    job = await read_job(
        _service(request),
        user.id,
        request.path_params["job_id"],
        wait,
        include_inputs=include_inputs,
    )
    return await json_response(job)


async def list_jobs(request: Request) -> JSONResponse:
    user = await current_user(request)
    limit, offset = _page(request)
    params = request.query_params
    docs = jobs.list_jobs(
        _service(request).views.connection(),
        str(user.id),
        experiment_id=params.get("experiment_id"),
        status=params.get("status"),
        device_id=params.get("device_id"),
        limit=limit,
        offset=offset,
    )
    return JSONResponse({"jobs": docs, "limit": limit, "offset": offset})


async def cancel_job(request: Request) -> JSONResponse:
    user = await current_user(request)
    job = await operations.cancel_job(_service(request), user.id, request.path_params["job_id"])
    return JSONResponse(job)


async def list_experiments(request: Request) -> JSONResponse:
    user = await current_user(request)
    limit, offset = _page(request)
    docs = experiments.list_experiments(
        _service(request).views.connection(), str(user.id), limit, offset
    )
    return JSONResponse({"experiments": docs, "limit": limit, "offset": offset})


async def create_experiment(request: Request) -> JSONResponse:
    user = await current_user(request)
    body = await parse_body(request, CreateExperimentRequest)
    doc = await operations.create_experiment(_service(request), user.id, body)
    return JSONResponse(doc, status_code=201)


async def get_experiment(request: Request) -> JSONResponse:
    user = await current_user(request)
    experiment_id = request.path_params["experiment_id"]
    doc = experiments.get_experiment(
        _service(request).views.connection(), str(user.id), experiment_id
    )
    if doc is None:
        raise NotFound("experiment", experiment_id)
    return JSONResponse(doc)


async def list_experiment_circuits(request: Request) -> JSONResponse:
    user = await current_user(request)
    limit, offset = _page(request)
    experiment_id = request.path_params["experiment_id"]
    db = _service(request).views.connection()
    if experiments.get_experiment(db, str(user.id), experiment_id) is None:
        raise NotFound("experiment", experiment_id)
    docs = circuits.list_circuits(db, str(user.id), experiment_id, limit, offset)
    return JSONResponse({"circuits": docs, "limit": limit, "offset": offset})


async def get_circuit(request: Request) -> JSONResponse:
    user = await current_user(request)
    circuit_id = request.path_params["circuit_id"]
    doc = circuits.get_circuit(_service(request).views.connection(), str(user.id), circuit_id)
    if doc is None:
        raise NotFound("circuit", circuit_id)
    return JSONResponse(doc)


async def list_devices(request: Request) -> JSONResponse:
    await current_user(request)
    return JSONResponse({"devices": [d.as_dict() for d in _service(request).catalogue.list()]})


async def health(request: Request) -> JSONResponse:
    """`degraded` while some recorded event could not be applied: it was set aside (logged with
    its position) and everything else goes on; an operator repairs it."""
    service = _service(request)
    set_aside = [event["position"] for event in set_aside_events(service.views.connection())]
    return JSONResponse(
        {
            "status": "degraded" if set_aside else "ok",
            "version": __version__,
            "log_position": service.projector.position,
            "set_aside_events": set_aside[:100],
        }
    )


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/jobs/{job_id}/cancel", cancel_job, methods=["POST"]),
    Route("/experiments", list_experiments, methods=["GET"]),
    Route("/experiments", create_experiment, methods=["POST"]),
    Route("/experiments/{experiment_id}", get_experiment, methods=["GET"]),
    Route("/experiments/{experiment_id}/circuits", list_experiment_circuits, methods=["GET"]),
    Route("/circuits/{circuit_id}", get_circuit, methods=["GET"]),
    Route("/devices", list_devices, methods=["GET"]),
]
