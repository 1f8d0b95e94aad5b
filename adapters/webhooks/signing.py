"""Webhook signing secrets: sealed for the log, opened to sign a delivery the Standard Webhooks
way (`webhook-id`, `webhook-timestamp`, `webhook-signature`: v1, HMAC-SHA256 over
`id.timestamp.body`), which the `standardwebhooks` package verifies.

Secrets are sealed as provider credentials are (adapters/vault.py): AES-256-GCM under the key
from QORCH_SECRET_KEY (else the data directory's key file), the owner (a webhook id, or
`callback:<user id>`) as associated data, so a sealed secret cannot be moved to another owner.
Unlike held credentials a secret must outlive restarts: it is recorded sealed in the event log,
and a store moved to machines with another key cannot sign any more (its deliveries give up).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from standardwebhooks.webhooks import Webhook

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED_PREFIX = "v1."
USER_AGENT = "qorch-webhooks"


class SealedSecrets:
    """The application's `SecretBox` (domain/webhook_commands.py)."""

    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = key

    @cached_property
    def _cipher(self) -> AESGCM:
        # The key is read (or created) on first use, as the credential vault does.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self._key())

    def seal(self, secret: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._cipher.encrypt(nonce, secret.encode(), context.encode())
        return SEALED_PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, sealed: str, context: str) -> str:
        """The secret; raises ValueError for another format, InvalidTag for another key or
        owner."""
        if not sealed.startswith(SEALED_PREFIX):
            raise ValueError("not a sealed webhook secret")
        raw = base64.b64decode(sealed.removeprefix(SEALED_PREFIX))
        return self._cipher.decrypt(raw[:12], raw[12:], context.encode()).decode()


def signed_headers(secret: str, message_id: str, body: str, now: float) -> dict[str, str]:
    """The headers of one attempt: the id is the delivery's (the same on every attempt), the
    timestamp and signature this attempt's."""
    timestamp = int(now)
    signature = Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, UTC), body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
