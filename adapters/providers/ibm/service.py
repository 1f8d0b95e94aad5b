"""The SDK's `QiskitRuntimeService`, one per credentials and process, making single attempts.

Building a service costs several IAM and API requests, so it is kept per (token, instance, url)
in this process, keyed by the token's hash, never the token. The SDK's REST session retries
every call up to five times with backoff (POSTs too, on 5xx) and never times out a read: once
built, its sessions make one attempt with bounded reads, and the executor's single retry policy
decides what to try again. Errors leave `calling` mapped to ProviderError, the token scrubbed.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ibm.errors import provider_error

CHANNEL = "ibm_quantum_platform"
CONNECT_TIMEOUT = 5.0
"""The SDK's own connect timeout."""

SERVICES: dict[tuple[str, str | None, str | None], Any] = {}
_LOCK = threading.Lock()
_MAX_SERVICES = 8


def service_for(token: str, instance: str | None, config: ProviderConfig) -> Any:
    key = (_digest(token), instance, config.ibm_url)
    with _LOCK:
        found = SERVICES.get(key)
    if found is not None:
        return found
    built = connect(token, instance, config.ibm_url)
    _single_attempts(built, config.call_timeout)
    with _LOCK:
        if len(SERVICES) >= _MAX_SERVICES:
            SERVICES.pop(next(iter(SERVICES)))
        SERVICES[key] = built
    return built


def connect(token: str, instance: str | None, url: str | None) -> Any:
    """Builds the SDK's service (IAM token exchange, instance lookup: network)."""
    from qiskit_ibm_runtime import QiskitRuntimeService

    arguments: dict[str, Any] = {"channel": CHANNEL, "token": token, "instance": instance or "auto"}
    if url:
        arguments["url"] = url
    return QiskitRuntimeService(**arguments)


@contextmanager
def calling(token: str, what: str) -> Iterator[None]:
    """Maps what the SDK raises inside to ProviderError; a refused token's service is dropped."""
    try:
        yield
    except Exception as error:
        mapped = provider_error(error, token, what)
        if mapped.code == "invalid_credentials":
            _forget(token)
        raise mapped from None


def _single_attempts(built: Any, read_timeout: float) -> None:
    # qiskit-ibm-runtime 0.51 has no setting for this: its RuntimeClients keep a RetrySession
    # (`_session`, `_timeout`) and authenticate through an ibm-cloud-sdk-core token manager.
    from requests.adapters import HTTPAdapter

    clients = [getattr(built, "_active_api_client", None)]
    clients += list((getattr(built, "_api_clients", None) or {}).values())
    for client in clients:
        session = getattr(client, "_session", None)
        if session is None:
            continue
        adapter = HTTPAdapter(max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session._timeout = (CONNECT_TIMEOUT, read_timeout)
        token_manager = getattr(session.auth, "tm", None)
        if token_manager is not None:
            token_manager.http_config = {"timeout": read_timeout}


def _forget(token: str) -> None:
    digest = _digest(token)
    with _LOCK:
        for key in [k for k in SERVICES if k[0] == digest]:
            del SERVICES[key]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
