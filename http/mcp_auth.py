"""API-key authentication in front of the MCP endpoint, and the caller of a tool call.

The same keys as the REST API (Authorization header, raw or Bearer; or HAIQU_API_KEY in the
query). The authenticated user rides in the ASGI scope, where a tool handler finds it through
the SDK's request context (`ctx.request` is the Starlette request of the message). The scope's
`user` is also set as the SDK's `AuthenticatedUser`, so a Streamable HTTP session can only be
used with the key of the user who opened it.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from qorch.domain.user import User
from qorch.http.auth import acting_as, presented_key
from qorch.http.errors import ApiError, error_response
from qorch.service import Service

USER_SCOPE_KEY = "qorch.user"


class ApiKeyAuth:
    """ASGI middleware: 401 without a valid API key, else the user in the scope."""

    def __init__(self, app: ASGIApp, service: Callable[[], Service]) -> None:
        self.app = app
        self.service = service  # answers the Service once the app has started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        service: Service = self.service()
        key = presented_key(Request(scope))
        user = await anyio.to_thread.run_sync(service.app.authenticate, key) if key else None
        if user is None:
            response = error_response(401, "unauthorized", "missing or invalid API key")
            response.headers["WWW-Authenticate"] = 'Bearer realm="qorch"'
            await response(scope, receive, send)
            return
        scope[USER_SCOPE_KEY] = user
        scope["user"] = AuthenticatedUser(
            AccessToken(token="api-key", client_id=str(user.id), scopes=[])
        )
        await self.app(scope, receive, send)


def request_user(request: object, local_user: User | None) -> User:
    """The caller: the HTTP request's authenticated user, or (stdio) the local user."""
    if isinstance(request, Request):
        user = request.scope.get(USER_SCOPE_KEY)
        if isinstance(user, User):
            return acting_as(user)
    elif request is None and local_user is not None:
        return acting_as(local_user)
    raise ApiError(401, "unauthorized", "missing or invalid API key")
