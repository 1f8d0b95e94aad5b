"""Typed errors that keep the server's error body: `{"error": {"code", "message", "field"}}`."""

from __future__ import annotations

from typing import Any

import httpx


class QorchError(Exception):
    """A request qorch refused or could not answer; `body` is the server's JSON answer as sent."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.body: dict[str, Any] = body if body is not None else {}


class BadRequest(QorchError):
    """Any 4xx: the request itself was wrong (the subclasses below are the 4xx with a meaning
    a caller may act on)."""


class Unauthorized(BadRequest):
    """401: no key, or a key that was revoked or replaced."""


class BudgetExceeded(BadRequest):
    """402: the run is estimated at more than the caller's budget has left."""


class NotFound(BadRequest):
    """404: no such object, or not the caller's."""


class RateLimited(BadRequest):
    """429: too busy; `retry_after` seconds is the server's hint."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(QorchError):
    """5xx."""


class ConnectionFailed(QorchError):
    """The server could not be reached (status 0)."""


class ConfigError(QorchError):
    """No server URL or API key was given anywhere (status 0)."""


class WaitTimeout(TimeoutError):
    """`wait` ran out of time; `job` is the job as last seen (not final)."""

    def __init__(self, job: dict[str, Any], timeout: float) -> None:
        super().__init__(f"job {job.get('id')} is still {job.get('status')} after {timeout:g} s")
        self.job = job


BY_STATUS: dict[int, type[QorchError]] = {
    401: Unauthorized,
    402: BudgetExceeded,
    404: NotFound,
    429: RateLimited,
}


def error_from(response: httpx.Response) -> QorchError:
    """The typed error for a 4xx/5xx answer (its body must have been read)."""
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    body: dict[str, Any] = parsed if isinstance(parsed, dict) else {"detail": response.text[:2000]}
    error = body["error"] if isinstance(body.get("error"), dict) else {}
    code = str(error.get("code") or "http_error")
    message = str(error.get("message") or body.get("detail") or response.reason_phrase)
    field = error.get("field") if isinstance(error.get("field"), str) else None
    status = response.status_code
    kind = BY_STATUS.get(status) or (ServerError if status >= 500 else BadRequest)
    if kind is RateLimited:
        return RateLimited(
            status, code, message, field, body, retry_after=_seconds(response.headers)
        )
    return kind(status, code, message, field, body)


def _seconds(headers: httpx.Headers) -> float | None:
    try:
        return float(headers["retry-after"])
    except (KeyError, ValueError):
        return None


class StreamUnavailable(QorchError):
    """The server has no event stream (GET /events); `wait` then long-polls instead."""
