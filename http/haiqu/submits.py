"""The haiqu-sdk's submits: `POST /flow` programs, legacy `POST /run`, and restarts.

They never answer 5xx once a job is recorded (the SDK retries 5xx on POST), honour an
`Idempotency-Key` header, and treat an identical submit from the same user within
QORCH_SDK_RETRY_WINDOW seconds (default 10) as a retry of the first.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse

from qorch.domain.application import Submit
from qorch.domain.fields import TextLimits, checked_json
from qorch.domain.requests import RunRequest, split_credentials
from qorch.domain.submission import SdkView
from qorch.domain.user import User
from qorch.http import commands, queries
from qorch.http.auth import user_of
from qorch.http.context import service_of
from qorch.http.errors import ApiError, json_response, parse_body, read_json
from qorch.http.haiqu.flow import FlowSubmit, LegacyRunSubmit, run_from_flow, run_from_legacy
from qorch.http.haiqu.resources import job
from qorch.projections import jobs

log = logging.getLogger("qorch.http.sdk")
IDEMPOTENCY_HEADER = "idempotency-key"


async def flow(request: Request) -> JSONResponse:
    user = user_of(request)
    body = await parse_body(request, FlowSubmit)
    run = run_from_flow(body)
    return await _submit(request, user, run, "Hybrid", body.program, body.readout_bases)


async def legacy_run(request: Request) -> JSONResponse:
    user = user_of(request)
    body = await parse_body(request, LegacyRunSubmit)
    run = run_from_legacy(body)
    return await _submit(request, user, run, "Run", None, body.readout_bases)


async def restart_job(request: Request) -> JSONResponse:
    """Runs a finished job again under the same id, answered with status Submitted (what the
    SDK's `job.restart()` checks; its job object keeps following the same id)."""
    user = user_of(request)
    credentials = await _restart_credentials(request)
    recorded = await commands.restart_job(
        service_of(request), user, request.path_params["job_id"], credentials
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


def _sdk_view(
    job_type: str, program: dict[str, Any] | None, bases: list[str] | None, limits: TextLimits
) -> SdkView:
    """The SDK's view of a job, recorded in the same save as the job."""
    program_json = checked_json("program", program_without_credentials(program), limits)
    return SdkView(job_type=job_type, program_json=program_json, readout_bases=bases)


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


async def _submit(
    request: Request,
    user: User,
    run: RunRequest,
    job_type: str,
    program: dict[str, Any] | None,
    bases: list[str] | None,
) -> JSONResponse:
    service = service_of(request)
    view = _sdk_view(job_type, program, bases, service.limits.text)
    submit = submit_of(request, await request.body())
    recorded, repeated = await commands.submit_job(service, user, run, submit, view)
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
        window=service_of(request).settings.sdk_retry_window,
    )


async def _answer_submit(
    request: Request,
    user: User,
    job_id: UUID,
    position: int,
    wait: float | None = None,
    status: int = 201,
    accepted_as: str | None = None,
) -> JSONResponse:
    """The recorded job, final when it finished within `wait` seconds. Never an error: the
    job is recorded, and a client retrying an error would submit it again. `accepted_as`
    reports the status the job was accepted in, even if a worker has already claimed it.
    The wait (QORCH_SDK_SUBMIT_WAIT) spares the SDK its polling (every 5 s)."""
    if wait is None:
        wait = service_of(request).settings.sdk_submit_wait
    try:
        if await queries.await_recorded(service_of(request), position):
            answer = await job(request, user, str(job_id), wait)
            if accepted_as is not None and answer.get("status") not in jobs.FINAL:
                answer["status"] = accepted_as
            return await json_response(answer, status)
    except Exception:
        log.exception("answering the recorded job %s", job_id)
    return JSONResponse({"id": str(job_id), "status": "Submitted", "recorded": True}, 202)
