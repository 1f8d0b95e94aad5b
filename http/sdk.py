"""The haiqu-sdk 1.7.0 wire format (shared/notes/wire-format.md, section B), on the same engine.

The SDK marks every request with a `haiqu-sdk-version` header. Paths that qorch already serves
in its own shapes (`GET /jobs/{id}`, `/experiments`, `/devices`, ...) answer in the SDK's shapes
when that header is present and in qorch's otherwise; the SDK-only paths answer SDK shapes.

Submits (`POST /flow`, `POST /run`) never answer 5xx once a job is recorded (the SDK retries 5xx
on POST), honour an `Idempotency-Key` header, and treat an identical submit from the same user
within QORCH_SDK_RETRY_WINDOW seconds (default 10) as a retry of the first.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import anyio
from eventsourcing.domain import Aggregate
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from qorch import __version__
from qorch.adapters.qpy import QpyError, qasm3_from_qpy
from qorch.domain.application import Submit
from qorch.domain.circuit import Circuit
from qorch.domain.errors import NotFound
from qorch.domain.fields import TextLimits, checked_json
from qorch.domain.job import Job
from qorch.domain.requests import RunRequest, split_credentials
from qorch.domain.submission import SdkJob
from qorch.domain.user import User
from qorch.http import rest
from qorch.http.admission import admit_submit, admit_upload
from qorch.http.auth import current_user, presented_key
from qorch.http.errors import ApiError, json_response, parse_body, read_json
from qorch.http.reads import await_recorded, read_job
from qorch.http.sdk_flow import (
    FlowSubmit,
    LegacyRunSubmit,
    program_of,
    run_from_flow,
    run_from_legacy,
)
from qorch.http.sdk_shapes import (
    circuit_shape,
    device_shape,
    experiment_shape,
    job_shape,
    user_shape,
)
from qorch.projections import circuits, experiments, sdk_jobs
from qorch.service import Service

log = logging.getLogger("qorch.http.sdk")
SDK_HEADER = "haiqu-sdk-version"
IDEMPOTENCY_HEADER = "idempotency-key"
SUBMIT_WAIT_SECONDS = float(os.environ.get("QORCH_SDK_SUBMIT_WAIT", "3"))
"""A submit waits this long for a final status, so the SDK need not poll (it polls every 5 s)."""
RETRY_WINDOW_SECONDS = float(os.environ.get("QORCH_SDK_RETRY_WINDOW", "10"))
Endpoint = Callable[[Request], Awaitable[Response]]


def _service(request: Request) -> Service:
    return request.app.state.service


def either(sdk: Endpoint, qorch: Endpoint) -> Endpoint:
    """The SDK's answer for requests carrying its version header, qorch's for the others."""

    async def endpoint(request: Request) -> Response:
        if SDK_HEADER in request.headers:
            return await sdk(request)
        return await qorch(request)

    return endpoint


# --- users and service ---


async def version(request: Request) -> JSONResponse:
    return JSONResponse({"version": __version__, "service": "qorch"})


async def health_auth(request: Request) -> JSONResponse:
    user = await current_user(request)
    return JSONResponse({"username": user.name, "status": "ok"})


async def get_user(request: Request) -> JSONResponse:
    user = await current_user(request)
    return JSONResponse(user_shape(user, presented_key(request)))


# --- experiments ---


def _experiment(request: Request, user: User, experiment_id: str) -> dict[str, Any]:
    doc = experiments.get_experiment(
        _service(request).views.connection(), str(user.id), experiment_id
    )
    if doc is None:
        raise NotFound("experiment", experiment_id)
    return experiment_shape(doc, user_shape(user, presented_key(request)))


async def _create_experiment(request: Request, user: User, body: dict[str, Any]) -> dict[str, Any]:
    service = _service(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(422, "invalid_request", "must be a non-empty string", "name")
    tags = [tag.strip() for tag in str(body.get("tags") or "").split(",") if tag.strip()]
    recorded = await anyio.to_thread.run_sync(
        service.app.create_experiment, user.id, name, str(body.get("description") or ""), tags
    )
    await await_recorded(service, recorded.position)
    return _experiment(request, user, str(recorded.id))


class _AnyObject(BaseModel):
    model_config = ConfigDict(extra="allow")


async def _json_object(request: Request) -> dict[str, Any]:
    return (await parse_body(request, _AnyObject)).model_dump()


async def list_experiments(request: Request) -> JSONResponse:
    user = await current_user(request)
    docs = experiments.list_experiments(
        _service(request).views.connection(), str(user.id), limit=500
    )
    name = request.query_params.get("name")
    owner = user_shape(user, presented_key(request))
    return JSONResponse(
        [experiment_shape(d, owner) for d in docs if name is None or d["name"] == name]
    )


async def create_experiment(request: Request) -> JSONResponse:
    user = await current_user(request)
    return JSONResponse(await _create_experiment(request, user, await _json_object(request)), 201)


async def init_experiment(request: Request) -> JSONResponse:
    """The experiment of that name (the newest one), created when the user has none."""
    user = await current_user(request)
    body = await _json_object(request)
    docs = experiments.list_experiments(
        _service(request).views.connection(), str(user.id), limit=500
    )
    for doc in docs:
        if doc["name"] == body.get("name"):
            return JSONResponse(_experiment(request, user, doc["id"]))
    return JSONResponse(await _create_experiment(request, user, body), 201)


async def get_experiment(request: Request) -> JSONResponse:
    user = await current_user(request)
    return JSONResponse(_experiment(request, user, request.path_params["experiment_id"]))


async def update_experiment(request: Request) -> JSONResponse:
    user = await current_user(request)
    experiment_id = request.path_params["experiment_id"]
    current = _experiment(request, user, experiment_id)
    body = await _json_object(request)
    service = _service(request)
    recorded = await anyio.to_thread.run_sync(
        service.app.update_experiment,
        user.id,
        experiment_id,
        body.get("name") or current["name"],
        body["description"] if body.get("description") is not None else current["description"],
        [tag for tag in current["tags"].split(",") if tag],
    )
    await await_recorded(service, recorded.position)
    return JSONResponse(_experiment(request, user, experiment_id))


# --- devices ---


async def list_devices(request: Request) -> JSONResponse:
    await current_user(request)
    return JSONResponse([device_shape(d.as_dict()) for d in _service(request).catalogue.list()])


async def get_device(request: Request) -> JSONResponse:
    await current_user(request)
    device = _service(request).catalogue.find(request.path_params["device_id"])
    if device is None:
        raise NotFound("device", request.path_params["device_id"])
    return JSONResponse(device_shape(device.as_dict()))


# --- circuits ---


async def submit_circuit(request: Request) -> JSONResponse:
    user = await current_user(request)
    await admit_upload(_service(request), user.id)
    body = await _json_object(request)
    for field in ("experiment_id", "qpy_dump", "hash"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise ApiError(422, "invalid_request", "must be a non-empty string", field)
    try:
        source = await anyio.to_thread.run_sync(qasm3_from_qpy, body["qpy_dump"])
    except QpyError as error:
        raise ApiError(422, "invalid_circuit", str(error), "qpy_dump") from None
    service = _service(request)
    circuit, recorded = await anyio.to_thread.run_sync(
        service.app.store_circuit_keyed,
        user.id,
        body["experiment_id"],
        source,
        str(body.get("name") or ""),
        body["hash"],
    )
    if recorded is not None:
        await await_recorded(service, recorded.position)
    return JSONResponse(_circuit(request, user, str(circuit.id)), 201)


def _circuit(request: Request, user: User, circuit_id: str) -> dict[str, Any]:
    db = _service(request).views.connection()
    doc = circuits.get_circuit(db, str(user.id), circuit_id)
    if doc is None:
        raise NotFound("circuit", circuit_id)
    return circuit_shape(doc)


async def get_circuit(request: Request) -> JSONResponse:
    user = await current_user(request)
    return JSONResponse(_circuit(request, user, request.path_params["circuit_id"]))


async def get_circuit_by_hash(request: Request) -> JSONResponse:
    user = await current_user(request)
    experiment_id = request.path_params["experiment_id"]
    try:
        circuit_id = Circuit.create_id(UUID(experiment_id), request.path_params["circuit_hash"])
    except ValueError:
        raise NotFound("experiment", experiment_id) from None
    return JSONResponse(_circuit(request, user, str(circuit_id)))


async def list_circuits(request: Request) -> JSONResponse:
    user = await current_user(request)
    experiment_id = request.path_params["experiment_id"]
    _experiment(request, user, experiment_id)
    limit = rest._integer(request, "limit", 100, 1, rest.MAX_PAGE)
    wanted = set(request.query_params.getlist("circuit_ids"))
    db = _service(request).views.connection()
    docs = circuits.list_circuits(db, str(user.id), experiment_id, limit if not wanted else 10**6)
    chosen = [d for d in docs if not wanted or d["id"] in wanted][:limit]
    return JSONResponse([circuit_shape(d) for d in chosen])


# --- jobs ---


def _program_for(job: dict[str, Any]) -> dict[str, Any]:
    return program_of(
        RunRequest(experiment_id="", device_id=job["device_id"], run_type=job["run_type"])
    )


async def _job(request: Request, user: User, job_id: str, wait: float = 0.0) -> dict[str, Any]:
    service = _service(request)
    job = await read_job(service, user.id, job_id, wait, include_inputs=True)
    sdk = sdk_jobs.get_sdk_job(service.views.connection(), job_id)
    return job_shape(job, sdk, _program_for(job))


async def get_job(request: Request) -> JSONResponse:
    user = await current_user(request)
    wait = rest._number(request, "wait", 0.0)
    return await json_response(await _job(request, user, request.path_params["job_id"], wait))


async def list_jobs(request: Request) -> JSONResponse:
    user = await current_user(request)
    experiment_id = request.path_params["experiment_id"]
    _experiment(request, user, experiment_id)
    params = request.query_params
    ids = sdk_jobs.list_job_ids(
        _service(request).views.connection(),
        str(user.id),
        experiment_id,
        job_type=params.get("job_type") or None,
        circuit_id=params.get("circuit_id") or None,
        limit=rest._integer(request, "limit", 10, 1, rest.MAX_PAGE),
    )
    return await json_response([await _job(request, user, job_id) for job_id in ids])


async def cancel_job(request: Request) -> JSONResponse:
    user = await current_user(request)
    job_id = request.path_params["job_id"]
    service = _service(request)
    recorded = await anyio.to_thread.run_sync(service.app.cancel_job, user.id, job_id)
    await await_recorded(service, recorded.position)
    return JSONResponse(await _job(request, user, job_id))


async def restart_job(request: Request) -> JSONResponse:
    """Runs a finished job again under the same id, answered with status Submitted (what the
    SDK's `job.restart()` checks; its job object keeps following the same id)."""
    user = await current_user(request)
    service = _service(request)
    credentials = await _restart_credentials(request)
    await admit_submit(service, user.id)  # a restart opens a job again: the same caps
    recorded = await anyio.to_thread.run_sync(
        service.app.restart_job, user.id, request.path_params["job_id"], credentials
    )
    return await _answer_submit(
        request, user, recorded.id, recorded.position, wait=0.0, accepted_as="Submitted"
    )


async def _restart_credentials(request: Request) -> dict[str, Any]:
    """A restart on a remote provider needs credentials again: `{"options": {...}}` (the SDK
    sends a null body: then none)."""
    data = await read_json(request)
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("options", {}), dict):
        raise ApiError(422, "invalid_request", "must be an object of options", "options")
    return split_credentials(data.get("options", {}))[1]


def _companions(
    job_type: str, program: dict[str, Any] | None, bases: list[str] | None, limits: TextLimits
) -> Callable[[Job], list[Aggregate]]:
    """The SDK's view of a job, recorded in the same save as the job."""

    program_json = checked_json("program", program_without_credentials(program), limits)

    def companions(job: Job) -> list[Aggregate]:
        return [
            SdkJob(job_id=job.id, job_type=job_type, program_json=program_json, readout_bases=bases)
        ]

    return companions


def program_without_credentials(program: dict[str, Any] | None) -> dict[str, Any] | None:
    """The program as recorded: credentials in a layer's options are never kept."""
    if program is None:
        return None
    layers = [
        {**layer, "options": split_credentials(layer["options"])[0]}
        if isinstance(layer, dict) and isinstance(layer.get("options"), dict)
        else layer
        for layer in program.get("layers", [])
    ]
    return {**program, "layers": layers}


async def flow(request: Request) -> JSONResponse:
    user = await current_user(request)
    body = await parse_body(request, FlowSubmit)
    run = run_from_flow(body)
    return await _submit(request, user, run, "Hybrid", body.program, body.readout_bases)


async def legacy_run(request: Request) -> JSONResponse:
    user = await current_user(request)
    body = await parse_body(request, LegacyRunSubmit)
    run = run_from_legacy(body)
    return await _submit(request, user, run, "Run", None, body.readout_bases)


async def _submit(
    request: Request,
    user: User,
    run: RunRequest,
    job_type: str,
    program: dict[str, Any] | None,
    bases: list[str] | None,
) -> JSONResponse:
    service = _service(request)
    submit = submit_of(request, await request.body())
    if not await anyio.to_thread.run_sync(service.app.is_repeat, user.id, submit):
        await admit_submit(service, user.id)  # a retry of a recorded submit opens no job
    (recorded, repeated) = await anyio.to_thread.run_sync(
        service.app.submit_job_once,
        user.id,
        run,
        submit,
        _companions(job_type, program, bases, service.settings.limits.text),
    )
    status = 200 if repeated else 201
    return await _answer_submit(request, user, recorded.id, recorded.position, status=status)


def submit_of(request: Request, body: bytes) -> Submit:
    """How a repeated submit is recognised: its Idempotency-Key, or else its exact body."""
    fingerprint = hashlib.sha256(request.url.path.encode() + b"\n" + body).hexdigest()
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if key:
        return Submit(key="explicit:" + key, fingerprint=fingerprint, now=time.time())
    return Submit(
        key="implicit:" + fingerprint,
        fingerprint=fingerprint,
        now=time.time(),
        window=RETRY_WINDOW_SECONDS,
    )


FINAL_STATUS_NAMES = frozenset({"Done", "Error", "Cancelled"})


async def _answer_submit(
    request: Request,
    user: User,
    job_id: UUID,
    position: int,
    wait: float = SUBMIT_WAIT_SECONDS,
    status: int = 201,
    accepted_as: str | None = None,
) -> JSONResponse:
    """The recorded job, final when it finished within `wait` seconds. Never an error: the
    job is recorded, and a client retrying an error would submit it again. `accepted_as`
    reports the status the job was accepted in, even if a worker has already claimed it."""
    service = _service(request)
    try:
        if await await_recorded(service, position):
            job = await _job(request, user, str(job_id), wait)
            if accepted_as is not None and job.get("status") not in FINAL_STATUS_NAMES:
                job["status"] = accepted_as
            return await json_response(job, status)
    except Exception:
        log.exception("answering the recorded job %s", job_id)
    return JSONResponse({"id": str(job_id), "status": "Submitted", "recorded": True}, 202)


routes = [
    Route("/version", version, methods=["GET"]),
    Route("/health/auth", health_auth, methods=["GET"]),
    Route("/user", get_user, methods=["GET"]),
    Route("/experiments/init", init_experiment, methods=["POST"]),
    Route("/experiments", either(list_experiments, rest.list_experiments), methods=["GET"]),
    Route("/experiments", either(create_experiment, rest.create_experiment), methods=["POST"]),
    Route(
        "/experiments/{experiment_id}",
        either(get_experiment, rest.get_experiment),
        methods=["GET"],
    ),
    Route("/experiments/{experiment_id}", update_experiment, methods=["PUT"]),
    Route(
        "/experiments/{experiment_id}/circuits",
        either(list_circuits, rest.list_experiment_circuits),
        methods=["GET"],
    ),
    Route(
        "/experiments/{experiment_id}/circuits/{circuit_hash}",
        get_circuit_by_hash,
        methods=["GET"],
    ),
    Route("/experiments/{experiment_id}/jobs", list_jobs, methods=["GET"]),
    Route("/devices", either(list_devices, rest.list_devices), methods=["GET"]),
    Route("/devices/{device_id}", get_device, methods=["GET"]),
    Route("/circuits", submit_circuit, methods=["POST"]),
    Route("/circuits/{circuit_id}", either(get_circuit, rest.get_circuit), methods=["GET"]),
    Route("/flow", flow, methods=["POST"]),
    Route("/run", legacy_run, methods=["POST"]),
    Route("/jobs/{job_id}", either(get_job, rest.get_job), methods=["GET"]),
    Route("/jobs/{job_id}/cancel", either(cancel_job, rest.cancel_job), methods=["POST"]),
    Route("/jobs/{job_id}/restart", restart_job, methods=["POST"]),
]
