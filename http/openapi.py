"""The OpenAPI document, generated from the same pydantic models the endpoints validate with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from qorch import __version__
from qorch.http import schemas, usage, webhooks

# method, path, summary, request body model, response model, query parameters
OPERATIONS: list[
    tuple[str, str, str, type[BaseModel] | None, type[BaseModel] | None, list[str]]
] = [
    (
        "post",
        "/ai/run_circuits_on_qpu_or_simulator",
        "Submit circuits to run (answers at once with a job id)",
        schemas.RunCircuitsRequest,
        schemas.JobAnswer,
        [],
    ),
    (
        "post",
        "/ai/get_job_results_and_status",
        "Status and results of a job; `wait` long-polls",
        schemas.JobQuery,
        schemas.JobAnswer,
        [],
    ),
    (
        "get",
        "/ai/get_job_results_and_status",
        "Status and results of a job; `wait` long-polls",
        None,
        schemas.JobAnswer,
        ["job_id", "wait"],
    ),
    (
        "get",
        "/ai/list_qpus_and_simulators",
        "Devices that can run circuits",
        None,
        schemas.DeviceList,
        [],
    ),
    (
        "post",
        "/ai/list_qpus_and_simulators",
        "Devices; with provider credentials in `options`, live status and queue length too",
        schemas.DeviceQuery,
        schemas.DeviceList,
        [],
    ),
    (
        "post",
        "/ai/submit_circuit_for_analytics",
        "Store a QASM circuit and compute its metrics",
        schemas.AnalyticsRequest,
        schemas.CircuitAnswer,
        [],
    ),
    (
        "get",
        "/jobs/{job_id}",
        "A job; `wait=S` long-polls until final or S seconds pass",
        None,
        schemas.Job,
        ["wait"],
    ),
    (
        "get",
        "/jobs",
        "The caller's jobs, newest first",
        None,
        None,
        ["experiment_id", "status", "device_id", "limit", "offset"],
    ),
    ("post", "/jobs/{job_id}/cancel", "Cancel a job that is not final", None, schemas.Job, []),
    ("get", "/experiments", "The caller's experiments", None, None, ["limit", "offset"]),
    (
        "post",
        "/experiments",
        "Create an experiment",
        schemas.CreateExperimentRequest,
        schemas.Experiment,
        [],
    ),
    ("get", "/experiments/{experiment_id}", "An experiment", None, schemas.Experiment, []),
    (
        "get",
        "/experiments/{experiment_id}/circuits",
        "An experiment's circuits",
        None,
        None,
        ["limit", "offset"],
    ),
    ("get", "/circuits/{circuit_id}", "A stored circuit", None, schemas.Circuit, []),
    ("get", "/devices", "Devices that can run circuits", None, None, []),
    (
        "get",
        "/usage",
        "The caller's runs and their cost in a UTC month, per day, provider and device, "
        "with the budget left",
        None,
        usage.Usage,
        ["period"],
    ),
    (
        "get",
        "/events",
        "The caller's job status changes as server-sent events (text/event-stream); "
        "`Last-Event-ID` or `after` resumes after a log position",
        None,
        None,
        ["job_id", "experiment_id", "status", "after"],
    ),
    (
        "post",
        "/webhooks",
        "Register a webhook for job status changes; answers its signing secret, once",
        webhooks.CreateWebhookRequest,
        webhooks.Webhook,
        [],
    ),
    ("get", "/webhooks", "The caller's webhooks", None, webhooks.WebhookList, []),
    ("get", "/webhooks/{webhook_id}", "A webhook", None, webhooks.Webhook, []),
    ("delete", "/webhooks/{webhook_id}", "Delete a webhook", None, None, []),
    (
        "get",
        "/webhooks/{webhook_id}/deliveries",
        "A webhook's deliveries, newest first: status, attempts, last error",
        None,
        webhooks.DeliveryList,
        ["limit", "offset"],
    ),
    (
        "post",
        "/webhooks/callback-secret",
        "A new secret signing the pushes to runs' callback_url (shown once)",
        None,
        webhooks.CallbackSecret,
        [],
    ),
]


def openapi_document() -> dict[str, Any]:
    models = {m for _, _, _, req, resp, _ in OPERATIONS for m in (req, resp) if m is not None}
    models.add(schemas.ErrorAnswer)
    _, definitions = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, request_model, response_model, query in OPERATIONS:
        operation: dict[str, Any] = {
            "summary": summary,
            "security": [{"ApiKeyHeader": []}, {"ApiKeyQuery": []}],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _path_parameters(path)
            ]
            + [{"name": name, "in": "query", "schema": {"type": "string"}} for name in query],
            "responses": {
                "200": _response(response_model),
                "4XX": _response(schemas.ErrorAnswer),
            },
        }
        if request_model is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(request_model)}},
            }
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "qorch", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "Authorization"},
                "ApiKeyQuery": {"type": "apiKey", "in": "query", "name": "HAIQU_API_KEY"},
            },
        },
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _response(model: type[BaseModel] | None) -> dict[str, Any]:
    if model is None:
        return {"description": "OK", "content": {"application/json": {"schema": {}}}}
    return {"description": "OK", "content": {"application/json": {"schema": _ref(model)}}}


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]
