"""IBM's failures in our codes, the token never echoed.

The SDK says "Unable to retrieve instances. Please check that you are using a valid API token."
both for a rejected key (IAM answers 400/401) and when IAM cannot be reached at all, so the
exception chain's cause decides between invalid_credentials and provider_unavailable.
"""

from __future__ import annotations

from qorch.adapters.providers.ibm.catalogue import INSTANCE_OPTION, TOKEN_OPTION
from qorch.adapters.providers.pipeline.errors import (
    error_chain,
    first_named,
    from_http_status,
    http_facts,
    scrub,
    unreachable,
)
from qorch.domain.execution import ProviderError

IBM = "IBM Quantum"
_ACCOUNT_ERRORS = frozenset({"InvalidAccountError", "CloudResourceNameResolutionError"})


def provider_error(error: BaseException, token: str, what: str) -> ProviderError:
    """Maps an SDK/HTTP failure of one call (`what`: submit, poll, ...) to a ProviderError."""
    if isinstance(error, ProviderError):
        return error
    import requests

    chain = error_chain(error)
    names = {type(e).__name__ for e in chain}
    status, retry_after = http_facts(chain)
    secrets = {"token": token}
    text = scrub(str(error), secrets)
    code = str(status) if status is not None else None
    if status is None and any(isinstance(e, requests.exceptions.Timeout) for e in chain):
        return unreachable(IBM, what, text, timed_out=True)
    if status is None and any(isinstance(e, requests.exceptions.ConnectionError) for e in chain):
        return unreachable(IBM, what, scrub(str(chain[-1]), secrets), timed_out=False)
    if status in (401, 403) or "IBMNotAuthorizedError" in names:
        return _refused(
            f"{IBM} refused the credentials in options.{TOKEN_OPTION} ({what})", text, code
        )
    if status == 400 and "ApiException" in names:  # IBM Cloud IAM: "API key not found"
        message = getattr(first_named(chain, "ApiException"), "message", "") or text
        return _refused(
            f"IBM Cloud IAM rejected the API key in options.{TOKEN_OPTION}",
            scrub(str(message), secrets),
            code,
        )
    if status is not None and (status == 429 or status >= 500):
        return from_http_status(status, text, provider=IBM, what=what, retry_after=retry_after)
    if "maintenance" in text.lower():
        return ProviderError(
            "provider_unavailable",
            f"{IBM} is unavailable ({what}): {text}",
            retryable=True,
            provider_code=code,
            retry_after=retry_after,
        )
    if names & _ACCOUNT_ERRORS or ("IBMInputValueError" in names and "instance" in text.lower()):
        return _refused(
            f"{IBM} did not accept options.{TOKEN_OPTION} / options.{INSTANCE_OPTION}", text, code
        )
    if "RuntimeJobNotFound" in names:
        return ProviderError("provider_failed", f"{IBM} has no such job: {text}")
    if "QiskitBackendNotFoundError" in names:
        return ProviderError(
            "provider_rejected",
            f"the backend is not available to this IBM Quantum instance: {text}",
        )
    if status is not None and 400 <= status < 500:
        return from_http_status(status, text, provider=IBM, what=what)
    return ProviderError(
        "provider_failed", f"{IBM} call failed ({what}): {type(error).__name__}: {text}"
    )


def _refused(what: str, text: str, code: str | None) -> ProviderError:
    return ProviderError(
        "invalid_credentials", f"{what}: {text}", field="options", provider_code=code
    )
