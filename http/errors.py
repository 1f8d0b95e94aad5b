"""Every failure answers JSON naming the field and the problem; never a bare 500 for bad input."""

from __future__ import annotations

import logging
import math
from typing import Any, TypeVar

import anyio
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel, ValidationError
from pydantic_core import from_json, to_json
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from qorch.domain.errors import BudgetExceeded, Busy, Conflict, NotFound, RequestError

log = logging.getLogger("qorch.http")
M = TypeVar("M", bound=BaseModel)
MAX_BODY_BYTES = 32 * 1024 * 1024
"""Only where no route limit is set (see http/bodies.py, which enforces them while streaming)."""
WRITE_CONFLICT = "the object was changed by a concurrent request; nothing was recorded: retry"


class ApiError(Exception):
    headers: dict[str, str] | None = None

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    detail = f"{field}: {message}" if field else message
    return {"error": {"code": code, "message": message, "field": field}, "detail": detail}


class FastJSONResponse(JSONResponse):
    """JSON rendered by pydantic-core (Rust): several times faster on large number arrays."""

    def render(self, content: Any) -> bytes:
        return to_json(content)


async def json_response(content: Any, status_code: int = 200) -> JSONResponse:
    """Renders in a worker thread: a job's results can be megabytes of JSON."""
    return await anyio.to_thread.run_sync(
        lambda: FastJSONResponse(content, status_code=status_code)
    )


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, field), status_code=status)


def as_api_error(exc: Exception) -> ApiError | None:
    """The 4xx answer an expected failure maps to; None for anything unexpected."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestError):
        return ApiError(422, "invalid_request", exc.message, exc.field or None)
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", str(exc))
    if isinstance(exc, Conflict):
        return ApiError(409, "conflict", str(exc))
    if isinstance(exc, IntegrityError):
        return ApiError(409, "conflict", WRITE_CONFLICT)
    if isinstance(exc, BudgetExceeded):
        return ApiError(402, "budget_exceeded", exc.message, exc.field)
    if isinstance(exc, Busy):
        busy = ApiError(429, "busy", str(exc))
        busy.headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        return busy
    return None


async def read_json(request: Request) -> Any:
    """The request's JSON body (None when empty), within the size limit."""
    body = await request.body()
    limit = request.scope.get("qorch.body_limit", MAX_BODY_BYTES)
    if len(body) > limit:
        raise ApiError(413, "body_too_large", f"request body exceeds {limit} bytes")
    try:
        return from_json(body) if body.strip() else None
    except ValueError as error:
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {error}") from None


async def parse_body(request: Request, model: type[M]) -> M:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "request body must be a JSON object")
    return validated(model, data)


def validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown field"
        raise ApiError(422, "invalid_request", message, field) from None


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    response = error_response(exc.status, exc.code, exc.message, exc.field)
    response.headers.update(getattr(exc, "headers", None) or {})  # e.g. Retry-After on a 429
    return response


async def request_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestError)
    return error_response(422, "invalid_request", exc.message, exc.field or None)


async def not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, "not_found", str(exc))


async def conflict(request: Request, exc: Exception) -> JSONResponse:
    return error_response(409, "conflict", str(exc))


async def mapped(request: Request, exc: Exception) -> JSONResponse:
    """Answers an expected failure the way `as_api_error` maps it (with its headers)."""
    error = as_api_error(exc)
    assert error is not None
    return await api_error(request, error)


async def write_conflict(request: Request, exc: Exception) -> JSONResponse:
    """Two requests changed one object at once (the store's optimistic concurrency): the loser
    recorded nothing and may retry."""
    return error_response(409, "conflict", WRITE_CONFLICT)


async def http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, "http_error", str(exc.detail))


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; nothing was recorded")


EXCEPTION_HANDLERS = {
    ApiError: api_error,
    RequestError: request_error,
    NotFound: not_found,
    Conflict: conflict,
    IntegrityError: write_conflict,
    Busy: mapped,
    BudgetExceeded: mapped,
    HTTPException: http_exception,
    Exception: unexpected,
}
