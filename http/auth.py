"""API keys: from the Authorization header (raw or Bearer) or the HAIQU_API_KEY query parameter."""

from __future__ import annotations

import anyio
from starlette.requests import Request

from qorch.adapters.circuit_facts import parsing_for
from qorch.domain.user import User
from qorch.http.errors import ApiError
from qorch.service import Service


def presented_key(request: Request) -> str:
    header = request.headers.get("authorization", "").strip()
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return header or request.query_params.get("HAIQU_API_KEY", "").strip()


async def current_user(request: Request) -> User:
    service: Service = request.app.state.service
    key = presented_key(request)
    user = await anyio.to_thread.run_sync(service.app.authenticate, key) if key else None
    if user is None:
        raise ApiError(401, "unauthorized", "missing or invalid API key")
    return acting_as(user)


def acting_as(user: User) -> User:
    """The rest of this request works for `user`: their circuits queue for their own share of
    the parser processes."""
    parsing_for(user.id)
    return user
