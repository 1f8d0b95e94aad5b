"""A stored circuit: its source text and what is known about it after parsing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate


@dataclass(frozen=True)
class CircuitFacts:
    """What parsing a circuit tells the domain; produced by the QASM adapter."""

    source: str
    format: str
    content_hash: str
    qubits: int
    parameters: tuple[str, ...]
    has_measurements: bool
    metrics: dict[str, Any] = field(default_factory=dict)


CONTROL_FLOW = frozenset({"if_else", "while_loop", "for_loop", "switch_case", "box"})


@dataclass(eq=False, repr=False)
class Circuit(Aggregate, created_event_name="Stored"):
    """Stored once per experiment and content hash: the id is derived from both. Its fields are
    those of its one event, `Stored`."""

    @staticmethod
    def create_id(experiment_id: UUID, content_hash: str) -> UUID:
        return uuid5(experiment_id, content_hash)

    Stored: ClassVar[type[Aggregate.Created]]
    user_id: UUID
    experiment_id: UUID
    content_hash: str
    name: str
    source: str
    format: str
    qubits: int
    parameters: list[str]
    has_measurements: bool
    metrics: dict[str, Any]

    @classmethod
    def store(cls, user_id: UUID, experiment_id: UUID, facts: CircuitFacts, name: str) -> Circuit:
        return cls(
            user_id=user_id,
            experiment_id=experiment_id,
            content_hash=facts.content_hash,
            name=name,
            source=facts.source,
            format=facts.format,
            qubits=facts.qubits,
            parameters=list(facts.parameters),
            has_measurements=facts.has_measurements,
            metrics=dict(facts.metrics),
        )

    def facts(self) -> CircuitFacts:
        return CircuitFacts(
            source=self.source,
            format=self.format,
            content_hash=self.content_hash,
            qubits=self.qubits,
            parameters=tuple(self.parameters),
            has_measurements=self.has_measurements,
            metrics=self.metrics,
        )

    @property
    def gates(self) -> int:
        return int(self.metrics.get("gates_total", 0))

    @property
    def has_control_flow(self) -> bool:
        """It loops or branches: its gate count does not say how long it runs."""
        return bool(CONTROL_FLOW & set(self.metrics.get("other_ops", {})))

    def is_owned_by(self, user_id: UUID) -> bool:
        return self.user_id == user_id
