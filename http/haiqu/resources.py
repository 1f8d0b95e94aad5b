"""The haiqu-sdk's reads and plain commands: the user, experiments, devices, circuits and jobs,
each a call to the command layer or the queries answered in the SDK's shapes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import anyio
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from qorch import __version__
from qorch.adapters.qpy import QpyError, qasm3_from_qpy
from qorch.domain.circuit import Circuit
from qorch.domain.errors import NotFound
from qorch.domain.requests import RunRequest
from qorch.domain.user import User
from qorch.http import commands, queries
from qorch.http.auth import presented_key, user_of
from qorch.http.context import query_of, service_of
from qorch.http.errors import ApiError, json_response, parse_body
from qorch.http.haiqu.flow import program_of
from qorch.http.haiqu.shapes import (
    circuit_shape,
    device_shape,
    experiment_shape,
    job_shape,
    user_shape,
)
from qorch.http.schemas import MAX_PAGE, JobQuery, Page, with_page_size
from qorch.projections import sdk_jobs


class Listing(BaseModel):
    """The SDK's list queries: it pages by `limit` alone."""

    limit: int = Field(100, ge=1, le=MAX_PAGE)
    job_type: str = ""
    circuit_id: str = ""


JOB_LISTING = with_page_size(Listing, 10)
EVERY_EXPERIMENT = Page.model_validate({"limit": MAX_PAGE})


class _AnyObject(BaseModel):
    model_config = ConfigDict(extra="allow")


async def json_object(request: Request) -> dict[str, Any]:
    return (await parse_body(request, _AnyObject)).model_dump()


# --- users and service ---


async def version(request: Request) -> JSONResponse:
    return JSONResponse({"version": __version__, "service": "qorch"})


async def health_auth(request: Request) -> JSONResponse:
    return JSONResponse({"username": user_of(request).name, "status": "ok"})


async def get_user(request: Request) -> JSONResponse:
    return JSONResponse(user_shape(user_of(request), presented_key(request)))


# --- experiments ---


def _experiment(request: Request, doc: dict[str, Any]) -> dict[str, Any]:
    return experiment_shape(doc, user_shape(user_of(request), presented_key(request)))


async def _create_experiment(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(422, "invalid_request", "must be a non-empty string", "name")
    tags = [tag.strip() for tag in str(body.get("tags") or "").split(",") if tag.strip()]
    description = str(body.get("description") or "")
    service, user = service_of(request), user_of(request)
    return _experiment(
        request, await commands.create_experiment(service, user, name, description, tags)
    )


def _experiments(request: Request) -> list[dict[str, Any]]:
    return queries.experiment_list(service_of(request), user_of(request), EVERY_EXPERIMENT)


async def list_experiments(request: Request) -> JSONResponse:
    name = request.query_params.get("name")
    docs = [doc for doc in _experiments(request) if name is None or doc["name"] == name]
    return JSONResponse([_experiment(request, doc) for doc in docs])


async def create_experiment(request: Request) -> JSONResponse:
    user_of(request)
    return JSONResponse(await _create_experiment(request, await json_object(request)), 201)


async def init_experiment(request: Request) -> JSONResponse:
    """The experiment of that name (the newest one), created when the user has none."""
    user_of(request)
    body = await json_object(request)
    for doc in _experiments(request):
        if doc["name"] == body.get("name"):
            return JSONResponse(_experiment(request, doc))
    return JSONResponse(await _create_experiment(request, body), 201)


async def get_experiment(request: Request) -> JSONResponse:
    doc = queries.experiment(
        service_of(request), user_of(request), request.path_params["experiment_id"]
    )
    return JSONResponse(_experiment(request, doc))


async def update_experiment(request: Request) -> JSONResponse:
    service, user = service_of(request), user_of(request)
    current = queries.experiment(service, user, request.path_params["experiment_id"])
    body = await json_object(request)
    doc = await commands.update_experiment(
        service,
        user,
        current["id"],
        body.get("name") or current["name"],
        body["description"] if body.get("description") is not None else current["description"],
        list(current["tags"]),
    )
    return JSONResponse(_experiment(request, doc))


# --- devices ---


async def list_devices(request: Request) -> JSONResponse:
    user_of(request)
    return JSONResponse([device_shape(d) for d in await queries.devices(service_of(request))])


async def get_device(request: Request) -> JSONResponse:
    user_of(request)
    device = queries.device(service_of(request), request.path_params["device_id"])
    return JSONResponse(device_shape(device))


# --- circuits ---


async def submit_circuit(request: Request) -> JSONResponse:
    user = user_of(request)
    body = await json_object(request)
    for field in ("experiment_id", "qpy_dump", "hash"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise ApiError(422, "invalid_request", "must be a non-empty string", field)
    try:
        source = await anyio.to_thread.run_sync(qasm3_from_qpy, body["qpy_dump"])
    except QpyError as error:
        raise ApiError(422, "invalid_circuit", str(error), "qpy_dump") from None
    name = str(body.get("name") or "")
    doc = await commands.store_circuit(
        service_of(request), user, body["experiment_id"], source, name, key=body["hash"]
    )
    return JSONResponse(circuit_shape(doc), 201)


async def get_circuit(request: Request) -> JSONResponse:
    doc = queries.circuit(service_of(request), user_of(request), request.path_params["circuit_id"])
    return JSONResponse(circuit_shape(doc))


async def get_circuit_by_hash(request: Request) -> JSONResponse:
    user = user_of(request)
    experiment_id = request.path_params["experiment_id"]
    try:
        circuit_id = Circuit.create_id(UUID(experiment_id), request.path_params["circuit_hash"])
    except ValueError:
        raise NotFound("experiment", experiment_id) from None
    return JSONResponse(circuit_shape(queries.circuit(service_of(request), user, str(circuit_id))))


async def list_circuits(request: Request) -> JSONResponse:
    service, user = service_of(request), user_of(request)
    limit = query_of(request, Listing, strict=False).limit
    wanted = set(request.query_params.getlist("circuit_ids"))
    experiment_id = request.path_params["experiment_id"]
    docs = queries.circuit_list(service, user, experiment_id, limit if not wanted else 10**6)
    chosen = [d for d in docs if not wanted or d["id"] in wanted][:limit]
    return JSONResponse([circuit_shape(d) for d in chosen])


# --- jobs ---


async def job(request: Request, user: User, job_id: str, wait: float = 0.0) -> dict[str, Any]:
    """A job in the SDK's shape: qorch's document, with the SDK's view of it recorded at submit
    (job type, program), or the program a plain run amounts to."""
    service = service_of(request)
    doc = await queries.job(service, user, job_id, wait, include_inputs=True)
    sdk = sdk_jobs.get_sdk_job(service.views.connection(), job_id)
    run = RunRequest(experiment_id="", device_id=doc["device_id"], run_type=doc["run_type"])
    return job_shape(doc, sdk, program_of(run))


async def get_job(request: Request) -> JSONResponse:
    job_id = request.path_params["job_id"]
    query = query_of(request, JobQuery, strict=False, job_id=job_id)
    return await json_response(await job(request, user_of(request), job_id, query.wait))


async def list_jobs(request: Request) -> JSONResponse:
    service, user = service_of(request), user_of(request)
    experiment_id = request.path_params["experiment_id"]
    queries.experiment(service, user, experiment_id)
    query = query_of(request, JOB_LISTING, strict=False)
    ids = sdk_jobs.list_job_ids(
        service.views.connection(),
        str(user.id),
        experiment_id,
        job_type=query.job_type or None,
        circuit_id=query.circuit_id or None,
        limit=query.limit,
    )
    return await json_response([await job(request, user, job_id) for job_id in ids])


async def cancel_job(request: Request) -> JSONResponse:
    user = user_of(request)
    job_id = request.path_params["job_id"]
    await commands.cancel_job(service_of(request), user, job_id)
    return JSONResponse(await job(request, user, job_id))
