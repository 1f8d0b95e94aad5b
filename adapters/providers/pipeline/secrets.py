"""Masks credential values in text that may be recorded or logged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def without_secrets(value: Any, credentials: Mapping[str, str]) -> Any:
    """`value` (text, or a dict of texts) with every credential value masked: an SDK's error may
    quote what it was given, and whatever is recorded stays in the log forever."""
    if isinstance(value, dict):
        return {key: without_secrets(item, credentials) for key, item in value.items()}
    if not isinstance(value, str):
        return value
    for secret in credentials.values():
        if not isinstance(secret, str):
            continue
        # As given, and as an error message may quote it (stripped, or as an escaped repr).
        for form in {secret, secret.strip(), repr(secret)[1:-1], repr(secret.encode())[2:-1]}:
            if len(form) >= 4:
                value = value.replace(form, "***")
    return value
