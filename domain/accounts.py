"""Users, their API keys and their dashboard sessions."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from qorch.domain.application_base import ApplicationBase
from qorch.domain.errors import Conflict, NotFound
from qorch.domain.user import (
    ApiKey,
    EndedSession,
    User,
    hash_api_key,
    new_api_key,
    user_id_for_key,
)


class Accounts(ApplicationBase):
    def register_user(self, name: str) -> tuple[UUID, str]:
        key = new_api_key()
        user = User(name=name, key_hash=hash_api_key(key))
        self.save(user)
        return user.id, key

    def authenticate(self, key: str) -> User | None:
        """The user who holds this key now: their first key finds them by id, a later one
        through its ApiKey record. A replaced or revoked key finds nobody."""
        if not key:
            return None
        user = self._find(User, user_id_for_key(key))
        if user is None:
            issued = self._find(ApiKey, ApiKey.create_id(hash_api_key(key)))
            user = self._find(User, issued.user_id) if issued is not None else None
        if user is None or not user.holds_key(key):
            return None
        return user

    def rotate_key(self, user_id: UUID) -> str:
        """Issues the user a new key (answered once) and ends the earlier one; the user and
        everything they own stay the same."""
        key = new_api_key()
        key_hash = hash_api_key(key)
        self._change_user(
            user_id,
            lambda user: user.rotate_key(key_hash),
            lambda user: [ApiKey(key_hash=key_hash, user_id=user.id)],
        )
        return key

    def revoke_key(self, user_id: UUID) -> None:
        """The user's key stops working everywhere; harmless to repeat."""
        self._change_user(user_id, lambda user: None if user.revoked else user.revoke_key())

    def end_session(self, user_id: UUID, session_id: str) -> None:
        """Signs a dashboard session out, for every API process on this store; harmless to
        repeat."""
        if not session_id:
            raise Conflict("a session to end needs its id")
        with contextlib.suppress(IntegrityError):  # ended already: a second sign-out
            self.save(EndedSession(user_id=user_id, session_id=session_id))

    def session_user(self, user_id: str, session_id: str, key_generation: int) -> User | None:
        """The user of a dashboard session that is still live (not signed out, key unchanged)."""
        user = self._find(User, user_id)
        if user is None or not user.accepts_sessions_of(key_generation):
            return None
        if self._find(EndedSession, EndedSession.create_id(session_id)) is not None:
            return None
        return user

    def users_named(self, name: str) -> list[User]:
        """Every user registered under this name (names need not be unique)."""
        topic = get_topic(User.Registered)
        found: list[User] = []
        position = None
        while True:
            page = self.recorder.select_notifications(
                start=position, limit=1000, topics=[topic], inclusive_of_start=position is None
            )
            for notification in page:
                event = self.mapper.to_domain_event(notification)
                if getattr(event, "name", None) == name:
                    found.append(self._user(event.originator_id))
            if len(page) < 1000:
                return found
            position = page[-1].id

    def find_user(self, user_id: UUID) -> User | None:
        return self._find(User, user_id)

    def has_users(self) -> bool:
        topic = get_topic(User.Registered)
        return bool(self.recorder.select_notifications(start=None, limit=1, topics=[topic]))

    def _user(self, user_id: UUID) -> User:
        user = self._find(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        return user

    def _change_user(
        self,
        user_id: UUID,
        change: Callable[[User], None],
        companions: Callable[[User], list[Aggregate]] = lambda user: [],
    ) -> None:
        """Applies a change to a user and saves it, again on the reloaded user when it changed
        concurrently (e.g. a sign-out while the key rotates)."""
        for _ in range(3):
            user = self._user(user_id)
            change(user)
            try:
                self.save(user, *companions(user))
            except IntegrityError:
                continue
            return
        raise Conflict(f"user {user_id} kept changing concurrently; retry")
