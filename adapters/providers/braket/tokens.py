"""Braket's clientToken, the idempotency key of CreateQuantumTask: a create tried again after a
lost answer (by the executor's retry policy) never makes a second paid task."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

MAX_TOKEN = 64
"""Braket's clientToken is at most 64 characters."""


def client_token(base: str, index: int) -> str:
    """Braket clientToken of the job's task `index`: the job's token, then `<token>-<i>`; a
    token too long for Braket (64 characters) is replaced by a digest of it first."""
    if len(base) + len(f"-{index}") > MAX_TOKEN:
        base = hashlib.sha256(base.encode()).hexdigest()[:40]
    return base if index == 0 else f"{base}-{index}"


class TokenHook:
    """Sets CreateQuantumTask's clientToken (the SDK has no argument for it); per thread, since
    a job's tasks are created concurrently."""

    def __init__(self) -> None:
        self._local = threading.local()

    @property
    def token(self) -> str | None:
        token: str | None = getattr(self._local, "token", None)
        return token

    @token.setter
    def token(self, value: str | None) -> None:
        self._local.token = value

    def __call__(self, params: dict[str, Any], **kwargs: Any) -> None:
        if self.token is not None:
            params["clientToken"] = self.token
