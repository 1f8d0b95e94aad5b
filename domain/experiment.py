"""An experiment groups a user's circuits and jobs."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Experiment(Aggregate):
    @event("Created")
    def __init__(self, user_id: UUID, name: str, description: str, tags: list[str]) -> None:
        self.user_id = user_id
        self.name = name
        self.description = description
        self.tags = tags

    @event("Updated")
    def update(self, name: str, description: str, tags: list[str]) -> None:
        self.name = name
        self.description = description
        self.tags = tags

    def is_owned_by(self, user_id: UUID) -> bool:
        return self.user_id == user_id
