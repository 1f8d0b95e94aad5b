"""What every entrypoint reads off a request: the service it runs on and its validated query."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import HTTPConnection

from qorch.bootstrap import Service
from qorch.http.errors import validated

M = TypeVar("M", bound=BaseModel)
KEY_PARAMETER = "HAIQU_API_KEY"
"""An API key may come in the query string; it is never a query field."""


def service_of(conn: HTTPConnection) -> Service:
    service: Service = conn.app.state.service
    return service


def query_of(conn: HTTPConnection, model: type[M], *, strict: bool = True, **path: Any) -> M:
    """The query string (plus `path` parameters) validated with `model`. Strict: an unknown
    parameter is refused (the agent surface); otherwise it is ignored (REST, haiqu-sdk)."""
    params = {name: value for name, value in conn.query_params.items() if name != KEY_PARAMETER}
    if not strict:
        params = {name: value for name, value in params.items() if name in model.model_fields}
    return validated(model, {**params, **path})
