"""The haiqu-sdk 1.7.0 wire format (shared/notes/wire-format.md, section B), on the same engine.

The SDK marks every request with a `haiqu-sdk-version` header. Paths that qorch already serves
in its own shapes (`GET /jobs/{id}`, `/experiments`, `/devices`, ...) answer in the SDK's shapes
when that header is present and in qorch's otherwise; the SDK-only paths answer SDK shapes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qorch.http import rest
from qorch.http.haiqu import resources as sdk
from qorch.http.haiqu.submits import flow, legacy_run, restart_job

SDK_HEADER = "haiqu-sdk-version"
Endpoint = Callable[[Request], Awaitable[Response]]


def either(in_sdk_shape: Endpoint, in_qorch_shape: Endpoint) -> Endpoint:
    """The SDK's answer for requests carrying its version header, qorch's for the others."""

    async def endpoint(request: Request) -> Response:
        if SDK_HEADER in request.headers:
            return await in_sdk_shape(request)
        return await in_qorch_shape(request)

    return endpoint


routes = [
    Route("/version", sdk.version, methods=["GET"]),
    Route("/health/auth", sdk.health_auth, methods=["GET"]),
    Route("/user", sdk.get_user, methods=["GET"]),
    Route("/experiments/init", sdk.init_experiment, methods=["POST"]),
    Route("/experiments", either(sdk.list_experiments, rest.list_experiments), methods=["GET"]),
    Route("/experiments", either(sdk.create_experiment, rest.create_experiment), methods=["POST"]),
    Route(
        "/experiments/{experiment_id}",
        either(sdk.get_experiment, rest.get_experiment),
        methods=["GET"],
    ),
    Route("/experiments/{experiment_id}", sdk.update_experiment, methods=["PUT"]),
    Route(
        "/experiments/{experiment_id}/circuits",
        either(sdk.list_circuits, rest.list_experiment_circuits),
        methods=["GET"],
    ),
    Route(
        "/experiments/{experiment_id}/circuits/{circuit_hash}",
        sdk.get_circuit_by_hash,
        methods=["GET"],
    ),
    Route("/experiments/{experiment_id}/jobs", sdk.list_jobs, methods=["GET"]),
    Route("/devices", either(sdk.list_devices, rest.list_devices), methods=["GET"]),
    Route("/devices/{device_id}", sdk.get_device, methods=["GET"]),
    Route("/circuits", sdk.submit_circuit, methods=["POST"]),
    Route("/circuits/{circuit_id}", either(sdk.get_circuit, rest.get_circuit), methods=["GET"]),
    Route("/flow", flow, methods=["POST"]),
    Route("/run", legacy_run, methods=["POST"]),
    Route("/jobs/{job_id}", either(sdk.get_job, rest.get_job), methods=["GET"]),
    Route("/jobs/{job_id}/cancel", either(sdk.cancel_job, rest.cancel_job), methods=["POST"]),
    Route("/jobs/{job_id}/restart", restart_job, methods=["POST"]),
]
