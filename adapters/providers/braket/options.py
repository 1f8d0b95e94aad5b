"""What a request may ask of Amazon Braket: its options, and what `use_mitigation` means there
(IonQ debiasing)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qorch.adapters.providers.braket.catalogue import Spec, spec_of
from qorch.adapters.providers.pipeline.options import (
    check_known,
    checked,
    only_run,
    option_integer,
)
from qorch.domain.devices import Device
from qorch.domain.execution import ProviderError

SUPPORTED_OPTIONS = ("optimization_level", "seed_transpiler", "s3_bucket")
CREDENTIAL_NAMES = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_default_region",
)
DEFAULT_OPTIMIZATION_LEVEL = 1
MAX_SEED = 2**31 - 1
"""Braket's transpiling seed is a 32-bit integer."""
DEBIAS_MINIMUM_SHOTS = 2500
"""IonQ debiasing's minimum on Braket (the device document's value wins when it gives one)."""
DEBIAS = "braket.device_schema.error_mitigation.debias.Debias"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class Options:
    optimization_level: int
    seed_transpiler: int | None
    s3_bucket: str | None


def _bucket_problem(value: Any) -> str | None:
    return None if isinstance(value, str) and _BUCKET.fullmatch(value) else "not an S3 bucket name"


def parse_options(options: Mapping[str, Any]) -> Options:
    check_known(options, SUPPORTED_OPTIONS, "Amazon Braket devices", ignored=CREDENTIAL_NAMES)
    level = option_integer(options, "optimization_level", 3)
    bucket = checked(options, "s3_bucket", _bucket_problem)
    return Options(
        optimization_level=DEFAULT_OPTIMIZATION_LEVEL if level is None else level,
        seed_transpiler=option_integer(options, "seed_transpiler", MAX_SEED),
        s3_bucket=bucket,
    )


def mitigation(spec: Spec, run_type: str, mitigate: bool) -> str | None:
    """The Braket feature `use_mitigation` maps to: IonQ debiasing, nothing elsewhere."""
    if not mitigate:
        return None
    if run_type == "StatevectorRun":
        raise ProviderError(
            "unsupported_option",
            "use_mitigation does not apply to StatevectorRun (exact simulation)",
            field="use_mitigation",
        )
    if not spec.debias:
        raise ProviderError(
            "unsupported_option",
            f"use_mitigation on Amazon Braket means IonQ debiasing, available on "
            f"braket_ionq_forte and braket_ionq_aria only; {spec.id} has no error mitigation "
            "through Braket",
            field="use_mitigation",
        )
    return "debias"


def check_request(device: Device, run_type: str, options: dict[str, Any], mitigate: bool) -> None:
    spec = spec_of(device)
    parse_options(options)
    if spec.id != "braket_sv":
        only_run(
            run_type,
            "Amazon Braket devices other than braket_sv",
            "braket_sv is the local state vector simulator",
        )
    mitigation(spec, run_type, mitigate)


def check_debias_shots(shots: int, minimum: int = DEBIAS_MINIMUM_SHOTS) -> None:
    if shots < minimum:
        raise ProviderError(
            "unsupported_option",
            f"IonQ debiasing (use_mitigation) needs at least {minimum} shots on Amazon Braket; "
            f"got {shots}",
            field="use_mitigation",
        )
