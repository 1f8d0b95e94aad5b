"""Aggregates a user has exactly one of (their budget, their webhooks): the id is derived from
the user's, so two opened at once cannot both be saved."""

from __future__ import annotations

from typing import ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5


class OnePerUser:
    ID_PREFIX: ClassVar[str]
    """`qorch:<kind>:`, followed by the user's id: the name the aggregate's id is derived from."""

    @classmethod
    def create_id(cls, user_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"{cls.ID_PREFIX}{user_id}")
