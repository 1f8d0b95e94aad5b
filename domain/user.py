"""Users and their API keys. Only a SHA-256 of a key is ever recorded.

A user's id is derived from the hash of their first key, so that key finds them directly. A key
issued later (a rotation) is found through an `ApiKey` record keyed by its hash, pointing at the
user: the user, and everything they own, stays the same. Only the user's current key works; a
revoked user has none until a new one is issued.

Dashboard sessions are checked against the user on every request: a session ends when it is
signed out (an `EndedSession` record) and when the key it was signed in with is replaced or
revoked (the key generation changes).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from qorch.domain.errors import Conflict

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
    class Registered(Aggregate.Created):
        name: str
        key_hash: str

    @staticmethod
    def create_id(key_hash: str) -> UUID:
        return uuid5(NAMESPACE_URL, "qorch:user-key:" + key_hash)

    @event(Registered)
    def __init__(self, name: str, key_hash: str) -> None:
        self.name = name
        self.key_hash = key_hash
        """Empty once the key was revoked."""
        self.key_generation = 0
        """Counts the keys replaced or revoked: a dashboard session signed in under an earlier
        generation is over."""

    def holds_key(self, key: str) -> bool:
        return bool(self.key_hash) and secrets.compare_digest(self.key_hash, hash_api_key(key))

    @property
    def revoked(self) -> bool:
        return not self.key_hash

    def rotate_key(self, key_hash: str) -> None:
        """Replaces the user's key (also after a revocation); the earlier one stops working."""
        if not key_hash or key_hash == self.key_hash:
            raise Conflict("a rotation needs a new key")
        self._key_rotated(key_hash=key_hash)

    @event("KeyRotated")
    def _key_rotated(self, key_hash: str) -> None:
        self.key_hash = key_hash
        self.key_generation += 1

    def revoke_key(self) -> None:
        """The user's key stops working and every dashboard session ends."""
        if self.revoked:
            raise Conflict(f"user {self.name!r} has no key to revoke")
        self._key_revoked()

    @event("KeyRevoked")
    def _key_revoked(self) -> None:
        self.key_hash = ""
        self.key_generation += 1

    def accepts_sessions_of(self, key_generation: int) -> bool:
        """A dashboard session signed in under this key generation may go on."""
        return not self.revoked and key_generation == self.key_generation


@dataclass(eq=False, repr=False)  # what eventsourcing already made it, said for type checkers
class EndedSession(Aggregate, created_event_name="Ended"):
    """A signed-out dashboard session, one record each (never an ever-growing list on the
    user, which every request replays): its id is derived from the session's id."""

    @staticmethod
    def create_id(session_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, "qorch:ended-session:" + session_id)

    user_id: UUID
    session_id: str


@dataclass(eq=False, repr=False)
class ApiKey(Aggregate, created_event_name="Issued"):
    """A key issued after registration (a rotation): its hash names this record, which names
    the user. A replaced key's record stays, but the user no longer holds that key."""

    @staticmethod
    def create_id(key_hash: str) -> UUID:
        return uuid5(NAMESPACE_URL, "qorch:api-key:" + key_hash)

    key_hash: str
    user_id: UUID
