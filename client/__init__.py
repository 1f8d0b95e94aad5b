"""qorch's Python client, usable without the server's code: `Client` (blocking) and
`AsyncClient`, typed errors that keep the server's error body, and `config` (where the URL and
key come from)."""

from qorch.client import config
from qorch.client.asynchronous import AsyncClient
from qorch.client.errors import (
    BadRequest,
    BudgetExceeded,
    ConfigError,
    ConnectionFailed,
    NotFound,
    QorchError,
    RateLimited,
    ServerError,
    StreamUnavailable,
    Unauthorized,
    WaitTimeout,
)
from qorch.client.sync import Client

__all__ = [
    "AsyncClient",
    "BadRequest",
    "BudgetExceeded",
    "Client",
    "ConfigError",
    "ConnectionFailed",
    "NotFound",
    "QorchError",
    "RateLimited",
    "ServerError",
    "StreamUnavailable",
    "Unauthorized",
    "WaitTimeout",
    "config",
]
