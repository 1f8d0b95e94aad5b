"""The IBM Cloud API key and instance a job brings, checked locally before any call: the SDK
itself only checks for a non-empty string, so a malformed key would cost a round trip to IAM."""

from __future__ import annotations

import re

from qorch.adapters.providers.ibm.catalogue import INSTANCE_OPTION, TOKEN_OPTION
from qorch.domain.execution import ProviderError

API_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{44}")
"""An IBM Cloud API key, as IBM Quantum Platform takes it (44 URL-safe base64 characters)."""
_LEGACY_TOKEN_PATTERN = re.compile(r"[0-9a-fA-F]{128}")
"""The retired IBM Quantum Experience token (channel ibm_quantum, removed from the SDK)."""


def token(credentials: dict[str, str]) -> str:
    found = credentials.get(TOKEN_OPTION)
    if not isinstance(found, str) or not found.strip():
        raise _invalid("is required: an IBM Cloud API key for IBM Quantum Platform")
    found = found.strip()
    if _LEGACY_TOKEN_PATTERN.fullmatch(found):
        raise _invalid(
            "looks like a legacy IBM Quantum Experience token (128 hex characters); that "
            "channel is retired: create an IBM Cloud API key on quantum.cloud.ibm.com"
        )
    if not API_KEY_PATTERN.fullmatch(found):
        raise _invalid(
            "is not an IBM Cloud API key (expected 44 characters of letters, digits, '-' and "
            f"'_'; got {len(found)} characters)"
        )
    return found


def instance(credentials: dict[str, str]) -> str | None:
    found = credentials.get(INSTANCE_OPTION)
    if found is None or found == "":
        return None
    if not isinstance(found, str) or len(found) > 512 or any(c.isspace() for c in found):
        raise ProviderError(
            "invalid_credentials",
            f"options.{INSTANCE_OPTION} must be an instance CRN or service name without spaces",
            field="options",
        )
    return found


def _invalid(problem: str) -> ProviderError:
    return ProviderError(
        "invalid_credentials", f"options.{TOKEN_OPTION} {problem}", field="options"
    )
