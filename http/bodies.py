"""Request body limits, enforced before any handler (authentication included) reads a byte.

A pure ASGI middleware: a body whose Content-Length exceeds its route's limit is refused at once
(413); a body without one (chunked) is counted while it streams and cut with 413 the moment it
passes the limit. Nothing reads an unbounded body into memory, whoever sends it.

Each route gets one of three limits: the big one only where circuits travel (runs, circuit
uploads, MCP messages), a small one for every other API route, the smallest for the dashboard's
forms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qorch.http.errors import ApiError, error_response

LIMIT_SCOPE_KEY = "qorch.body_limit"

BIG_BODY_ROUTES = frozenset(
    {
        ("POST", "/ai/run_circuits_on_qpu_or_simulator"),
        ("POST", "/ai/submit_circuit_for_analytics"),
        ("POST", "/circuits"),  # haiqu-sdk circuit upload
        ("POST", "/flow"),  # haiqu-sdk submits
        ("POST", "/run"),
        ("POST", "/mcp"),  # tool calls carry circuits
    }
)


@dataclass(frozen=True)
class BodyLimits:
    big: int
    """Submit and upload routes."""
    api: int
    """Every other API route."""
    form: int
    """The dashboard's forms."""

    def for_route(self, method: str, path: str) -> int:
        path = path.rstrip("/") or "/"
        if path == "/" or path == "/dashboard" or path.startswith("/dashboard/"):
            return self.form
        if (method, path) in BIG_BODY_ROUTES:
            return self.big
        return self.api


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "body_too_large", f"request body exceeds {limit} bytes")


class LimitBodies:
    """ASGI middleware: every HTTP request's body within `limit_for(method, path)` bytes."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        scope[LIMIT_SCOPE_KEY] = limit
        declared = _content_length(scope)
        if declared == -1:
            malformed = ApiError(400, "bad_request", "malformed Content-Length header")
            await _answer(scope, receive, send, malformed)
            return
        if declared is not None and declared > limit:
            await _answer(scope, receive, send, BodyTooLarge(limit))
            return

        received = 0
        cut = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, cut
            if cut:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                if cut and not started:
                    started = True  # whatever the app made of the cut body, the answer is 413
                    await _answer(scope, receive, send, BodyTooLarge(limit))
                    return
                started = True
            elif cut:
                return  # the body of a response replaced by the 413
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await _answer(scope, receive, send, BodyTooLarge(limit))


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when absent; -1 when it is not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return -1
            return length if length >= 0 else -1
    return None


async def _answer(scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
    response = error_response(error.status, error.code, error.message, error.field)
    response.headers["Connection"] = "close"  # the rest of the body is never read
    await response(scope, receive, send)
