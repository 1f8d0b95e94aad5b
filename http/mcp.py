"""The MCP server for AI agents: qorch's tools and `job://` resources on the SDK's low-level
`Server`, served over Streamable HTTP (mounted at /mcp beside the REST API, same API keys) and
over stdio (`qorch mcp`, see http/mcp_stdio.py).

The low-level server rather than `MCPServer`: it lets each tool's input schema be exactly the
pydantic wire model the HTTP endpoint validates with, and each failure answer the same message
as the HTTP 4xx.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.exceptions import MCPError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from qorch import __version__
from qorch.bootstrap import Service, limits_from
from qorch.domain.user import User
from qorch.http.auth import UNAUTHORIZED, acting_as, caller_of, user_of
from qorch.http.errors import ApiError, as_api_error, error_body, error_response, validated
from qorch.http.mcp_jobs import (
    TEMPLATE,
    JobWatch,
    OwnedListen,
    job_id_of,
    list_job_resources,
    read_job_resource,
)
from qorch.http.mcp_tools import Answer, ToolSpec, tool_specs
from qorch.settings import Settings

log = logging.getLogger("qorch.mcp")

Context = ServerRequestContext[Any, Any]

INSTRUCTIONS = (
    "qorch runs quantum circuits (OpenQASM 2.0 or 3.0) on simulators and QPUs. Typical flow: "
    "list_experiments or create_experiment for an experiment_id; list_qpus_and_simulators for "
    "a device_id (default aer_simulator); run_circuits_on_qpu_or_simulator, which answers a job "
    "id at once; then get_job_results_and_status with wait=30 until the status is Done, Error "
    "or Cancelled. submit_circuit_for_analytics stores a circuit and answers its metrics "
    "without running it. Bit order and Pauli labels follow Qiskit: bit and qubit 0 are the "
    "rightmost character. The resource job://{job_id} holds a job's complete JSON; subscribe "
    "to it to be told when the job's status changes. A run on a paid device is refused "
    "(budget_exceeded) when its estimate is more than the user's budget has left; get_usage "
    "answers what the user's runs cost in a month and the budget left."
)


class McpHost:
    """One MCP server over one qorch service, acting for the caller of each message."""

    def __init__(self, settings: Settings, local_user: User | None = None) -> None:
        self.settings = settings
        self.local_user = local_user
        self._service: Service | None = None
        self.specs: dict[str, ToolSpec] = {
            spec.name: spec for spec in tool_specs(limits_from(settings))
        }
        self.tools = [spec.as_tool() for spec in self.specs.values()]
        self.input_schemas = {tool.name: tool.input_schema for tool in self.tools}
        bus = InMemorySubscriptionBus()
        self.watch = JobWatch(bus)
        self.server: Server[Any] = Server(
            "qorch",
            version=__version__,
            title="qorch",
            description="Runs quantum circuits on QPUs and simulators",
            instructions=INSTRUCTIONS,
            get_tool_input_schema=self._input_schema,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
            on_subscribe_resource=self._subscribe,
            on_unsubscribe_resource=self._unsubscribe,
            on_subscriptions_listen=OwnedListen(
                ListenHandler(bus), self.watch, self.service, self._resource_user
            ),
        )

    def attach(self, service: Service) -> None:
        self._service = service

    def service(self) -> Service:
        if self._service is None:
            raise RuntimeError("the MCP server is used before its service was opened")
        return self._service

    def caller(self, ctx: Context) -> User:
        """The HTTP request's authenticated user, or (stdio) the local user. A tool runs in its
        session's task, not the request's: its parser share is set here."""
        if isinstance(ctx.request, Request):
            return acting_as(user_of(ctx.request))
        if ctx.request is None and self.local_user is not None:
            return acting_as(self.local_user)
        raise ApiError(401, "unauthorized", UNAUTHORIZED)

    # --- tools ---

    def _input_schema(self, name: str) -> dict[str, Any] | None:
        return self.input_schemas.get(name)

    async def _list_tools(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self.tools)

    async def _call_tool(
        self, ctx: Context, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        spec = self.specs.get(params.name)
        try:
            if spec is None:
                names = ", ".join(self.specs)
                raise ApiError(404, "not_found", f"unknown tool {params.name!r}; tools: {names}")
            user = self.caller(ctx)
            arguments = validated(spec.model, params.arguments or {})
            answer = await spec.handler(self.service(), user, arguments)
        except Exception as exc:
            error = as_api_error(exc)
            if error is None:
                log.exception("tool %s failed", params.name)
                error = ApiError(500, "internal_error", "internal error; nothing was recorded")
            return error_result(error)
        return answer_result(answer)

    # --- resources ---

    def _resource_user(self, ctx: Context) -> User:
        try:
            return self.caller(ctx)
        except ApiError as error:
            raise MCPError(types.INVALID_REQUEST, error.message) from None

    async def _list_resources(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return list_job_resources(self.service(), self._resource_user(ctx))

    async def _list_resource_templates(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=[TEMPLATE])

    async def _read_resource(
        self, ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return await read_job_resource(self.service(), self._resource_user(ctx), params.uri)

    async def _subscribe(
        self, ctx: Context, params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        user = self._resource_user(ctx)
        self.watch.subscribe_session(self.service(), user, job_id_of(params.uri), ctx.session)
        return types.EmptyResult()

    async def _unsubscribe(
        self, ctx: Context, params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        self.watch.unsubscribe_session(job_id_of(params.uri), ctx.session)
        return types.EmptyResult()


def answer_result(answer: Answer) -> types.CallToolResult:
    """The summary, then the structured content, also as JSON text for clients that only show
    text content (the spec's advice for structured results)."""
    return types.CallToolResult(
        content=[
            types.TextContent(type="text", text=answer.text),
            types.TextContent(
                type="text", text=json.dumps(answer.structured, separators=(",", ":"))
            ),
        ],
        structured_content=answer.structured,
    )


def error_result(error: ApiError) -> types.CallToolResult:
    """A tool error carrying the HTTP API's error body and message."""
    body = error_body(error.code, error.message, error.field)
    text = f"Error {error.status} {error.code}: {body['detail']}"
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=body, is_error=True
    )


class Authenticated:
    """401, with a Bearer challenge, for a message without a valid API key; the app's
    authentication backend has looked the key up."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and caller_of(Request(scope)) is None:
            response = error_response(401, "unauthorized", UNAUTHORIZED)
            response.headers["WWW-Authenticate"] = 'Bearer realm="qorch"'
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def http_endpoint(host: McpHost) -> tuple[ASGIApp, StreamableHTTPSessionManager]:
    """The ASGI app to mount at /mcp, and the session manager to run in the app's lifespan."""
    sessions = StreamableHTTPSessionManager(app=host.server)
    return Authenticated(StreamableHTTPASGIApp(sessions)), sessions
