"""IonQ's failures as ProviderErrors, classified once (the executor decides on retries); the API
key never appears in a message."""

from __future__ import annotations

import re

from qorch.adapters.providers.ionq.catalogue import CREDENTIAL
from qorch.adapters.providers.pipeline.errors import from_http_status, scrub, unreachable
from qorch.adapters.providers.pipeline.retry_after import retry_after_seconds
from qorch.domain.execution import ProviderError

IONQ = "IonQ"
CONFLICT = frozenset({409})
"""IonQ answers 409 to a request that collides with one in progress: worth trying again."""


def provider_error(error: BaseException, key: str, what: str) -> ProviderError:
    import requests
    from qiskit_ionq import exceptions

    if isinstance(error, ProviderError):
        return error
    if isinstance(error, exceptions.IonQAPIError):
        status = int(error.status_code)
        return from_http_status(
            status,
            secret_free(f"{status} {error.error_type}: {error.message}", key),
            provider=IONQ,
            what=what,
            credentials_field=f"options.{CREDENTIAL}",
            retry_after=retry_after_seconds((error.headers or {}).get("Retry-After")),
            unavailable=CONFLICT,
        )
    if isinstance(error, requests.RequestException):
        timed_out = isinstance(error, requests.Timeout)
        return unreachable(IONQ, what, type(error).__name__, timed_out=timed_out)
    if isinstance(
        error,
        exceptions.IonQGateError
        | exceptions.IonQMidCircuitMeasurementError
        | exceptions.IonQPauliExponentialError,
    ):
        return ProviderError("invalid_circuit", secret_free(f"{what}: {_message(error)}", key))
    return ProviderError(
        "provider_failed",
        secret_free(f"IonQ call failed ({what}): {type(error).__name__}: {_message(error)}", key),
    )


def unreadable(what: str, error: ValueError) -> ProviderError:
    """An answer that is not IonQ's JSON (e.g. a proxy's HTML page): worth trying again."""
    return ProviderError(
        "provider_unavailable",
        f"IonQ answered something unreadable ({what}): {_message(error)}",
        retryable=True,
    )


def secret_free(text: str, key: str) -> str:
    # Besides the key itself: any Authorization header an error body quotes.
    return re.sub(r"apiKey\s+\S+", "apiKey ***", scrub(text, {CREDENTIAL: key}))


def _message(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return str(message)[:500]
