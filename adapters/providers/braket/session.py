"""AWS sessions built from a job's keys (nothing read from or written to os.environ for them).

Every client makes ONE attempt per call: the executor's retry policy is the only one (botocore
would otherwise try each call 3 times, under the executor's own retries). With
`ProviderConfig.braket_endpoint_url`, every client of the session (Braket, S3, STS) goes there,
S3 path-style. A QPU is always reached in its own region; a region-less simulator ARN (SV1,
DM1) in `aws_default_region` (default us-east-1).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from qorch.adapters.providers.braket.catalogue import Spec
from qorch.adapters.providers.braket.errors import aws_errors
from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.execution import ProviderError

if TYPE_CHECKING:
    from braket.aws import AwsSession

DEFAULT_REGION = "us-east-1"
SINGLE_ATTEMPT = {"total_max_attempts": 1, "mode": "standard"}
"""botocore's `max_attempts` counts retries after the first try; `total_max_attempts` counts
every try, so 1 is exactly one."""


def botocore_config(config: ProviderConfig) -> Any:
    """One attempt per call, with connect + read timeouts that leave room in the executor's
    call timeout for the several calls one submit makes (GetDevice, the bucket, the creates)."""
    from botocore.config import Config

    per_call = max(config.call_timeout, 4.0) / 4
    connect = min(5.0, per_call / 3)
    options: dict[str, Any] = {
        "connect_timeout": connect,
        "read_timeout": max(1.0, min(30.0, per_call - connect)),
        "retries": dict(SINGLE_ATTEMPT),
    }
    if config.braket_endpoint_url:
        options["s3"] = {"addressing_style": "path"}
    return Config(**options)


@functools.cache
def _session_class() -> type:
    """A boto3 Session whose every client/resource gets our endpoint and botocore config (the
    Braket SDK creates its S3 client and resource itself, without either)."""
    import boto3

    class EndpointSession(boto3.Session):  # type: ignore[misc]
        def __init__(self, *, endpoint_url: str | None, botocore_config: Any, **kwargs: Any):
            super().__init__(**kwargs)
            self._qorch_endpoint = endpoint_url
            self._qorch_config = botocore_config

        def _adjust(self, kwargs: dict[str, Any]) -> dict[str, Any]:
            if self._qorch_endpoint:  # ours wins, even over BRAKET_ENDPOINT in the environment
                kwargs["endpoint_url"] = self._qorch_endpoint
            given = kwargs.get("config")
            kwargs["config"] = given.merge(self._qorch_config) if given else self._qorch_config
            return kwargs

        def client(self, *args: Any, **kwargs: Any) -> Any:
            return super().client(*args, **self._adjust(kwargs))

        def resource(self, *args: Any, **kwargs: Any) -> Any:
            return super().resource(*args, **self._adjust(kwargs))

    return EndpointSession


def session(
    credentials: Mapping[str, str], config: ProviderConfig, region: str, bucket: str | None
) -> AwsSession:
    from braket.aws import AwsSession

    key = credentials.get("aws_access_key_id")
    secret = credentials.get("aws_secret_access_key")
    if not key or not secret:
        raise ProviderError(
            "invalid_credentials",
            "Amazon Braket needs options aws_access_key_id and aws_secret_access_key",
            field="options",
        )
    botocore = botocore_config(config)
    with aws_errors("session", credentials):  # e.g. AWS_PROFILE naming a missing profile
        boto_session = _session_class()(
            endpoint_url=config.braket_endpoint_url,
            botocore_config=botocore,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=credentials.get("aws_session_token") or None,
            region_name=region,
        )
        return AwsSession(boto_session=boto_session, config=botocore, default_bucket=bucket)


def region(spec: Spec, credentials: Mapping[str, str]) -> str:
    # A QPU is reached in its own region (else the SDK copies the session, losing our endpoint).
    return spec.region or credentials.get("aws_default_region") or DEFAULT_REGION
