"""One authentication backend for every entrypoint (Starlette's `AuthenticationMiddleware`).

On the API (REST, /ai, the haiqu-sdk routes, MCP) the caller presents an API key: the
Authorization header, raw or Bearer, or the HAIQU_API_KEY query parameter. On the dashboard's
pages it presents the signed session cookie instead. Either way the user is looked up in a
worker thread, and handlers read `request.user` through `user_of` (401 when there is none) or
`session_of` (the dashboard). Each surface answers its own 401: a JSON error on the API, a
`WWW-Authenticate` challenge on MCP, a redirect to the sign-in page on the dashboard.
"""

from __future__ import annotations

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
)
from starlette.requests import HTTPConnection
from starlette.responses import Response

from qorch.adapters.circuit_facts import parsing_for
from qorch.domain.user import User
from qorch.http import queries
from qorch.http.context import KEY_PARAMETER, service_of
from qorch.http.dashboard.cookies import sessions_of
from qorch.http.dashboard.session import COOKIE, Session
from qorch.http.errors import ApiError, as_api_error, error_response

UNAUTHORIZED = "missing or invalid API key"
STATIC = "/dashboard/static/"


class Caller(AuthenticatedUser):
    """The user a request acts for (and its dashboard session, if signed in that way). An MCP
    `AuthenticatedUser`, so that a Streamable HTTP session can only be used with the key of the
    user who opened it."""

    def __init__(self, user: User, session: Session | None = None) -> None:
        super().__init__(AccessToken(token="api-key", client_id=str(user.id), scopes=[]))
        self.user = user
        self.session = session

    @property
    def display_name(self) -> str:
        return self.user.name


class Refused(AuthenticationError):
    """The lookup itself failed in an expected way (e.g. a record that cannot be read)."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


class ApiKeyOrSession(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, Caller] | None:
        service = service_of(conn)
        session = None
        try:
            if on_dashboard(conn.scope["path"]):  # conn.url would parse the whole URL for it
                session = sessions_of(conn).read(conn.cookies.get(COOKIE))
                user = await queries.session_user(service, session) if session else None
            else:
                user = await queries.user_with_key(service, presented_key(conn))
        except Exception as exc:
            error = as_api_error(exc)
            if error is None:
                raise
            raise Refused(error) from exc
        if user is None:
            return None
        return AuthCredentials(["authenticated"]), Caller(acting_as(user), session)


def refused(conn: HTTPConnection, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return error_response(exc.error.status, exc.error.code, exc.error.message, exc.error.field)


def on_dashboard(path: str) -> bool:
    return path in ("/", "/dashboard") or (
        path.startswith("/dashboard/") and not path.startswith(STATIC)
    )


def presented_key(conn: HTTPConnection) -> str:
    header = conn.headers.get("authorization", "").strip()
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return header or conn.query_params.get(KEY_PARAMETER, "").strip()


def acting_as(user: User) -> User:
    """The rest of this request works for `user`: their circuits queue for their own share of
    the parser processes."""
    parsing_for(user.id)
    return user


def caller_of(conn: HTTPConnection) -> Caller | None:
    caller = conn.scope.get("user")
    return caller if isinstance(caller, Caller) else None


def user_of(conn: HTTPConnection) -> User:
    """The authenticated user; a 401 (the API's error body) without a valid API key."""
    caller = caller_of(conn)
    if caller is None:
        raise ApiError(401, "unauthorized", UNAUTHORIZED)
    return caller.user


def session_of(conn: HTTPConnection) -> Session | None:
    """The dashboard session the request is signed in with, if any."""
    caller = caller_of(conn)
    return caller.session if caller is not None else None
