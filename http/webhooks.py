"""Webhooks: a user's endpoints, their deliveries, and the secret that signs run callbacks.

    POST   /webhooks                       {url, events?, description?} -> 201, with `secret`
    GET    /webhooks, /webhooks/{id}       never the secret (it is shown once, at creation)
    DELETE /webhooks/{id}                  204; its deliveries not yet made are given up
    GET    /webhooks/{id}/deliveries       newest first: status, attempts, last error
    POST   /webhooks/callback-secret       201 {secret}: signs pushes to every run's
                                           callback_url; a new one replaces the last

Commands go to the application, which reads and writes the aggregates themselves (no read model
lags behind them); deliveries are read from the deliverers' table (adapters/webhooks/tables.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from qorch.adapters.webhooks.tables import WebhookTables, tables_for
from qorch.domain.application import Qorch
from qorch.domain.webhook import ALL_EVENT_TYPES, MAX_URL, DeliveryStatus, Endpoint
from qorch.http.auth import user_of
from qorch.http.context import query_of, service_of
from qorch.http.errors import parse_body
from qorch.http.schemas import Page, with_page_size

PAGE = with_page_size(Page, 100)


class CreateWebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=MAX_URL,
        description="An http(s) URL that receives a signed POST for each job status change; "
        "loopback, private and metadata addresses are refused unless the operator allows them.",
    )
    events: list[str] | None = Field(
        None, description=f"Event types to receive; default all: {', '.join(ALL_EVENT_TYPES)}."
    )
    description: str = ""


class Webhook(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str
    created_at: str
    secret: str | None = Field(
        None, description="The Standard Webhooks signing secret (whsec_...): only when created."
    )


class WebhookList(BaseModel):
    webhooks: list[Webhook]


class WebhookDelivery(BaseModel):
    id: str = Field(description="The `webhook-id` header of every attempt.")
    job_id: str
    type: str
    status: str = Field(description="pending, sending, delivered or failed (given up).")
    attempts: int
    last_error: str | None
    last_status_code: int | None
    next_attempt_at: str | None
    created_at: str
    updated_at: str


class DeliveryList(BaseModel):
    deliveries: list[WebhookDelivery]
    limit: int
    offset: int


class CallbackSecret(BaseModel):
    secret: str = Field(description="Signs the pushes to every run's callback_url; shown once.")
    created_at: str


async def create_webhook(request: Request) -> JSONResponse:
    user = user_of(request)
    body = await parse_body(request, CreateWebhookRequest)
    registration = await anyio.to_thread.run_sync(
        service_of(request).app.register_webhook, user.id, body.url, body.events, body.description
    )
    doc = _webhook(registration.endpoint) | {"secret": registration.secret}
    return JSONResponse(doc, status_code=201)


async def list_webhooks(request: Request) -> JSONResponse:
    user = user_of(request)
    found = await anyio.to_thread.run_sync(service_of(request).app.user_webhooks, user.id)
    return JSONResponse({"webhooks": [_webhook(endpoint) for endpoint in found]})


async def get_webhook(request: Request) -> JSONResponse:
    user = user_of(request)
    webhook_id = request.path_params["webhook_id"]
    found = await anyio.to_thread.run_sync(
        service_of(request).app.user_webhook, user.id, webhook_id
    )
    return JSONResponse(_webhook(found))


async def delete_webhook(request: Request) -> Response:
    user = user_of(request)
    webhook_id = request.path_params["webhook_id"]
    await anyio.to_thread.run_sync(service_of(request).app.remove_webhook, user.id, webhook_id)
    return Response(status_code=204)


async def list_deliveries(request: Request) -> JSONResponse:
    user = user_of(request)
    page = query_of(request, PAGE, strict=False)
    app = service_of(request).app
    endpoint = await anyio.to_thread.run_sync(
        app.user_webhook, user.id, request.path_params["webhook_id"]
    )
    tables = _tables(app)
    rows = []
    if tables is not None:
        rows = await anyio.to_thread.run_sync(
            tables.deliveries, str(endpoint.id), str(user.id), page.limit, page.offset
        )
    return JSONResponse(
        {"deliveries": [_delivery(row) for row in rows], "limit": page.limit, "offset": page.offset}
    )


async def new_callback_secret(request: Request) -> JSONResponse:
    user = user_of(request)
    secret, at = await anyio.to_thread.run_sync(
        service_of(request).app.new_callback_secret, user.id
    )
    return JSONResponse({"secret": secret, "created_at": _when(at)}, status_code=201)


_TABLES: WeakKeyDictionary[Qorch, WebhookTables | None] = WeakKeyDictionary()


def _tables(app: Qorch) -> WebhookTables | None:
    if app not in _TABLES:
        _TABLES[app] = tables_for(app.recorder)
    return _TABLES[app]


def _webhook(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": str(endpoint.id),
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "created_at": _when(endpoint.created_at),
    }


def _delivery(row: dict[str, Any]) -> dict[str, Any]:
    waiting = row["status"] == DeliveryStatus.PENDING
    return {
        "id": row["id"],
        "job_id": row["job_id"],
        "type": row["event_type"],
        "status": row["status"],
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "last_status_code": row["last_status_code"],
        "next_attempt_at": _when(row["next_at"]) if waiting else None,
        "created_at": _when(row["created_at"]),
        "updated_at": _when(row["updated_at"]),
    }


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


routes = [
    Route("/webhooks", create_webhook, methods=["POST"]),
    Route("/webhooks", list_webhooks, methods=["GET"]),
    Route("/webhooks/callback-secret", new_callback_secret, methods=["POST"]),
    Route("/webhooks/{webhook_id}", get_webhook, methods=["GET"]),
    Route("/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"]),
    Route("/webhooks/{webhook_id}/deliveries", list_deliveries, methods=["GET"]),
]
