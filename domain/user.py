"""Users and their API keys. Only a SHA-256 of a key is ever recorded."""

from __future__ import annotations

import hashlib
import secrets
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

KEY_PREFIX = "qk_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def user_id_for_key(key: str) -> UUID:
    """Users are found by their key: the id is derived from the key's hash, never from the key."""
    return uuid5(NAMESPACE_URL, "qorch:user-key:" + hash_api_key(key))


class User(Aggregate):
    @staticmethod
    def create_id(key_hash: str) -> UUID:
        return uuid5(NAMESPACE_URL, "qorch:user-key:" + key_hash)

    @event("Registered")
    def __init__(self, name: str, key_hash: str) -> None:
        self.name = name
        self.key_hash = key_hash

    def holds_key(self, key: str) -> bool:
        return secrets.compare_digest(self.key_hash, hash_api_key(key))
