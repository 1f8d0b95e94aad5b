"""What every provider does with a failed call: walk the exception chain for the HTTP status and
Retry-After, map the common statuses to our codes, and never echo a credential.

Providers make ONE attempt per call and raise a classified ProviderError; the executor's single
retry policy decides whether to try again (`retryable`, `retry_after`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from qorch.adapters.providers.pipeline.retry_after import retry_after_seconds
from qorch.adapters.providers.pipeline.secrets import without_secrets
from qorch.domain.execution import ProviderError


def error_chain(error: BaseException) -> list[BaseException]:
    """The error and its causes/contexts, outermost first (each once)."""

    def walk() -> Iterator[BaseException]:
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            yield current
            current = current.__cause__ or current.__context__

    return list(walk())


def first_named(chain: list[BaseException], name: str) -> BaseException | None:
    return next((e for e in chain if type(e).__name__ == name), None)


def http_facts(chain: list[BaseException]) -> tuple[int | None, float | None]:
    """The first HTTP status in the chain and its Retry-After (seconds), if any."""
    status: int | None = None
    retry_after: float | None = None
    for error in chain:
        # (not `or`: a requests.Response is falsy when its status is an error)
        response = getattr(error, "response", None)
        if response is None:
            response = getattr(error, "http_response", None)
        code = getattr(response, "status_code", None)
        if not isinstance(code, int):
            code = getattr(error, "status_code", None)
        if isinstance(code, int) and code > 0 and status is None:
            status = code
        headers = getattr(response, "headers", None)
        if headers is not None and retry_after is None:
            retry_after = retry_after_seconds(headers.get("Retry-After"))
    return status, retry_after


def scrub(text: str, secrets: Mapping[str, str]) -> str:
    return str(without_secrets(text, secrets))


def from_http_status(
    status: int,
    text: str,
    *,
    provider: str,
    what: str,
    credentials_field: str | None = "options",
    retry_after: float | None = None,
    unavailable: frozenset[int] = frozenset(),
) -> ProviderError:
    """The common meaning of an HTTP status from any provider's API: 401/403 refused
    credentials, 429 rate limited, 5xx (and `unavailable`, e.g. IonQ's 409) unavailable (both
    retryable), other 4xx rejected. `text` must already be scrubbed."""
    code = str(status)
    if status in (401, 403):
        return ProviderError(
            "invalid_credentials",
            f"{provider} refused the credentials ({status}, {what}): {text}",
            field=credentials_field,
            provider_code=code,
        )
    if status == 429:
        return ProviderError(
            "rate_limited",
            f"{provider} rate limit ({what}): {text}",
            retryable=True,
            provider_code=code,
            retry_after=retry_after,
        )
    if status >= 500 or status in unavailable:
        return ProviderError(
            "provider_unavailable",
            f"{provider} is unavailable ({what}): {text}",
            retryable=True,
            provider_code=code,
            retry_after=retry_after,
        )
    return ProviderError(
        "provider_rejected", f"{provider} rejected the request ({what}): {text}", provider_code=code
    )


def unreachable(provider: str, what: str, detail: str, *, timed_out: bool) -> ProviderError:
    """No answer at all: a timeout or a connection that failed (both worth trying again)."""
    if timed_out:
        return ProviderError(
            "provider_timeout",
            f"{provider} did not answer in time ({what}): {detail}",
            retryable=True,
        )
    return ProviderError(
        "provider_unavailable",
        f"{provider} could not be reached ({what}): {detail}",
        retryable=True,
    )
