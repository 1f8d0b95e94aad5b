"""The dashboard's cookie and forms: the signed session cookie (checked on every dashboard
request by the one authentication backend, http/auth.py), form fields and their origin."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response

from qorch.http.bodies import LIMIT_SCOPE_KEY
from qorch.http.context import service_of
from qorch.http.dashboard.session import COOKIE, Sessions, load_secret


def sessions_of(conn: HTTPConnection) -> Sessions:
    """This app's signer of sessions, made on first use from the data directory's secret."""
    sessions: Sessions | None = getattr(conn.app.state, "dashboard_sessions", None)
    if sessions is None:
        sessions = Sessions(load_secret(service_of(conn).settings.data_dir))
        conn.app.state.dashboard_sessions = sessions
    return sessions


def to_sign_in() -> RedirectResponse:
    return RedirectResponse("/dashboard/sign-in", status_code=303)


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=sessions_of(request).max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


async def form_fields(request: Request, max_bytes: int = 64 * 1024) -> dict[str, str]:
    fields = await form_lists(request, max_bytes)
    return {name: values[0] for name, values in fields.items()}


async def form_lists(request: Request, max_bytes: int = 64 * 1024) -> dict[str, list[str]]:
    """Every value of each field (a form's checkboxes share one name), within the route's body
    limit (QORCH_MAX_FORM_BYTES, enforced by http/bodies.py)."""
    body = await request.body()
    if len(body) > request.scope.get(LIMIT_SCOPE_KEY, max_bytes):
        return {}
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def same_origin(request: Request) -> bool:
    """A state-changing form must come from this site (checked on top of SameSite=Strict)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host
