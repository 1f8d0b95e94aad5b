"""An experiment groups a user's circuits and jobs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from qorch.domain.fields import TextLimits, checked_tags, checked_text


class Experiment(Aggregate):
    class Created(Aggregate.Created):
        user_id: UUID
        name: str
        description: str
        tags: list[str]

    class Updated(Aggregate.Event):
        name: str
        description: str
        tags: list[str]

    @classmethod
    def create(
        cls,
        user_id: UUID,
        name: Any,
        description: Any,
        tags: Iterable[Any],
        limits: TextLimits,
    ) -> Experiment:
        name, description, tags = _checked(name, description, tags, limits)
        return cls(user_id=user_id, name=name, description=description, tags=tags)

    @event(Created)
    def __init__(self, user_id: UUID, name: str, description: str, tags: list[str]) -> None:
        self.user_id = user_id
        self.name = name
        self.description = description
        self.tags = tags

    def update(self, name: Any, description: Any, tags: Iterable[Any], limits: TextLimits) -> None:
        name, description, tags = _checked(name, description, tags, limits)
        self._updated(name=name, description=description, tags=tags)

    @event(Updated)
    def _updated(self, name: str, description: str, tags: list[str]) -> None:
        self.name = name
        self.description = description
        self.tags = tags

    def is_owned_by(self, user_id: UUID) -> bool:
        return self.user_id == user_id


def _checked(
    name: Any, description: Any, tags: Iterable[Any], limits: TextLimits
) -> tuple[str, str, list[str]]:
    return (
        checked_text("name", name, limits.max_name, required=True),
        checked_text("description", description, limits.max_description),
        checked_tags("tags", tags, limits),
    )
