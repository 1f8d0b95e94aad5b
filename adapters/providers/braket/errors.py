"""AWS failures as qorch's ProviderErrors: AWS error codes mapped onto the HTTP statuses they
mean, then classified as every provider's are; credentials never echoed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from qorch.adapters.providers.pipeline.errors import from_http_status, scrub, unreachable
from qorch.adapters.providers.pipeline.retry_after import retry_after_seconds
from qorch.domain.execution import ProviderError

BRAKET = "Amazon Braket"

_CREDENTIAL_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
        "IncompleteSignature",
    }
)
_THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "SlowDown",
        "RequestLimitExceeded",
    }
)
_UNAVAILABLE_CODES = frozenset(
    {
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServiceException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "DeviceOfflineException",
    }
)
SECRET_NAMES = ("aws_secret_access_key", "aws_session_token", "aws_access_key_id")
"""What is masked (not the region, which an error may name harmlessly)."""


def scrubbed(text: str, credentials: Mapping[str, str]) -> str:
    return scrub(text, {name: credentials[name] for name in SECRET_NAMES if credentials.get(name)})


def _status_meant(code: str, status: int) -> int:
    """The HTTP status an AWS error code means (AWS answers some of them with a plain 400)."""
    if code in _THROTTLING_CODES:
        return 429
    if code in _CREDENTIAL_CODES and status not in (401, 403, 429):
        return 403
    if code in _UNAVAILABLE_CODES and status < 500 and status not in (401, 403, 429):
        return 503
    return status


def _client_error(error: Any, operation: str, credentials: Mapping[str, str]) -> ProviderError:
    response: dict[str, Any] = dict(error.response)
    code = str(response.get("Error", {}).get("Code") or "")
    message = str(response.get("Error", {}).get("Message") or "")
    metadata = response.get("ResponseMetadata", {})
    status = int(metadata.get("HTTPStatusCode") or 0)
    headers = {k.lower(): v for k, v in (metadata.get("HTTPHeaders") or {}).items()}
    classified = from_http_status(
        _status_meant(code, status),
        scrubbed(f"{code or status}: {message}", credentials),
        provider=BRAKET,
        what=operation,
        retry_after=retry_after_seconds(headers.get("retry-after")),
    )
    classified.provider_code = code or str(status)
    return classified


def provider_error(
    error: Exception, operation: str, credentials: Mapping[str, str]
) -> ProviderError:
    from botocore import exceptions as aws

    if isinstance(error, aws.ClientError):
        return _client_error(error, operation, credentials)
    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError):
        return ProviderError(
            "invalid_credentials",
            f"{BRAKET} {operation}: incomplete AWS credentials",
            field="options",
        )
    detail = scrubbed(f"{type(error).__name__}: {error}", credentials)
    timed_out = isinstance(error, aws.ConnectTimeoutError | aws.ReadTimeoutError)
    if timed_out or isinstance(
        error, aws.EndpointConnectionError | aws.ConnectionError | aws.HTTPClientError
    ):
        classified = unreachable(BRAKET, operation, detail, timed_out=timed_out)
        classified.provider_code = type(error).__name__
        return classified
    if isinstance(error, ValueError):  # the SDK's own refusals ("device not found", ...)
        return ProviderError(
            "provider_rejected",
            scrubbed(f"{BRAKET} {operation}: {error}", credentials),
            provider_code=type(error).__name__,
        )
    return ProviderError(
        "provider_failed", f"{BRAKET} {operation}: {detail}", provider_code=type(error).__name__
    )


@contextmanager
def aws_errors(operation: str, credentials: Mapping[str, str]) -> Iterator[None]:
    """Turns whatever the SDK raises inside into a classified ProviderError."""
    try:
        yield
    except ProviderError:
        raise
    except Exception as error:
        raise provider_error(error, operation, credentials) from None
