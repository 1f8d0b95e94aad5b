"""The Starlette application: routes (REST, agent endpoints, MCP at /mcp), one authentication
backend for all of them, error handlers, and the lifespan that runs the projector, the MCP
session manager and (unless disabled) the executor and the webhook deliverer beside the API."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qorch.bootstrap import Service, open_deliverer, open_executor, open_service
from qorch.http import ai, events, haiqu, rest, usage, webhooks
from qorch.http.auth import ApiKeyOrSession, refused
from qorch.http.bodies import BodyLimits, LimitBodies
from qorch.http.dashboard.routes import routes as dashboard_routes
from qorch.http.errors import EXCEPTION_HANDLERS
from qorch.http.mcp import McpHost, http_endpoint
from qorch.http.openapi import openapi_document
from qorch.settings import Settings

log = logging.getLogger("qorch")


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document())


def create_app(settings: Settings) -> Starlette:
    mcp = McpHost(settings)
    mcp_app, mcp_sessions = http_endpoint(mcp)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service: Service = await anyio.to_thread.run_sync(open_service, settings)
        app.state.service = service
        mcp.attach(service)
        await anyio.to_thread.run_sync(service.catalogue.list)  # loads device data once
        try:
            async with mcp_sessions.run(), anyio.create_task_group() as tg:
                tg.start_soon(service.projector.run, settings.poll_interval)
                tg.start_soon(mcp.watch.run, service)
                if settings.run_worker:
                    tg.start_soon(open_executor(settings, service.app, service.registry).run)
                    tg.start_soon(open_deliverer(settings, service.app).run)  # webhooks
                yield
                tg.cancel_scope.cancel()
        finally:
            service.close()

    body_limits = BodyLimits(
        big=settings.max_body_bytes, api=settings.max_request_bytes, form=settings.max_form_bytes
    )
    return Starlette(
        routes=[
            *ai.routes,
            *haiqu.routes,  # before rest: shared paths answer the haiqu-sdk in its shapes
            *rest.routes,
            *usage.routes,  # GET /usage
            *events.routes,  # GET /events: job status changes as server-sent events
            *webhooks.routes,  # /webhooks: signed pushes of job status changes
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/mcp", mcp_app),  # MCP over Streamable HTTP, same API keys
            *dashboard_routes,  # the web dashboard: /, /dashboard/...
        ],
        # Bodies are limited before any handler (authentication included) reads them.
        middleware=[
            Middleware(LimitBodies, limit_for=body_limits.for_route),
            Middleware(AuthenticationMiddleware, backend=ApiKeyOrSession(), on_error=refused),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
