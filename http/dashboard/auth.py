"""Who is signed in: the session cookie, checked on every dashboard request."""

from __future__ import annotations

from urllib.parse import parse_qs

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qorch.http.auth import acting_as
from qorch.http.dashboard.session import COOKIE, Session, Sessions, load_secret
from qorch.service import Service


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions | None = getattr(request.app.state, "dashboard_sessions", None)
    if sessions is None:
        sessions = Sessions(load_secret(service_of(request).settings.data_dir))
        request.app.state.dashboard_sessions = sessions
    return sessions


async def current_session(request: Request) -> Session | None:
    """The signed-in session: a valid cookie whose session the user's record still accepts
    (not signed out, key neither replaced nor revoked; checked in the event log, so a sign-out
    in any API process counts in all of them)."""
    session = sessions_of(request).read(request.cookies.get(COOKIE))
    if session is None:
        return None
    app = service_of(request).app
    user = await anyio.to_thread.run_sync(
        app.session_user, session.user_id, session.session_id, session.key_generation
    )
    if user is None:
        return None
    acting_as(user)
    return session


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
    body = await request.body()
    if len(body) > max_bytes:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def same_origin(request: Request) -> bool:
    """A state-changing form must come from this site (checked on top of SameSite=Strict)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host
