"""A stored circuit: its source text and what is known about it after parsing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event


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


class Circuit(Aggregate):
    """Stored once per experiment and content hash: the id is derived from both."""

    @staticmethod
    def create_id(experiment_id: UUID, content_hash: str) -> UUID:
        return uuid5(experiment_id, content_hash)

    class Stored(Aggregate.Created):
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

    @event(Stored)
    def __init__(
        self,
        user_id: UUID,
        experiment_id: UUID,
        content_hash: str,
        name: str,
        source: str,
        format: str,
        qubits: int,
        parameters: list[str],
        has_measurements: bool,
        metrics: dict[str, Any],
    ) -> None:
        self.user_id = user_id
        self.experiment_id = experiment_id
        self.content_hash = content_hash
        self.name = name
        self.source = source
        self.format = format
        self.qubits = qubits
        self.parameters = parameters
        self.has_measurements = has_measurements
        self.metrics = metrics

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
