"""Experiments, and the circuits stored in them (once per distinct text, or per client key)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from qorch.domain.application_base import ApplicationBase, Recorded
from qorch.domain.circuit import Circuit
from qorch.domain.errors import RequestError
from qorch.domain.experiment import Experiment
from qorch.domain.fields import checked_text
from qorch.domain.requests import RunRequest


class ExperimentCommands(ApplicationBase):
    def create_experiment(
        self, user_id: UUID, name: Any, description: Any = "", tags: Iterable[Any] = ()
    ) -> Recorded:
        experiment = Experiment.create(user_id, name, description, tags, self.limits.text)
        return self._saved(experiment)

    def update_experiment(
        self, user_id: UUID, experiment_id: str, name: Any, description: Any, tags: Iterable[Any]
    ) -> Recorded:
        experiment = self.owned_experiment(user_id, experiment_id, field="experiment_id")
        experiment.update(name, description, tags, self.limits.text)
        return self._saved(experiment)

    def owned_experiment(self, user_id: UUID, experiment_id: str, field: str) -> Experiment:
        experiment = self._owned(Experiment, user_id, experiment_id)
        if experiment is None:
            raise RequestError(field, f"unknown experiment {experiment_id!r}")
        return experiment

    def store_circuit(
        self, user_id: UUID, experiment_id: str, source: str, name: str = ""
    ) -> tuple[Circuit, Recorded | None]:
        """Stores a circuit in an experiment unless the same text is already there."""
        checked_text("name", name, self.limits.text.max_name)
        experiment = self.owned_experiment(user_id, experiment_id, field="experiment_id")
        facts = self._describe(source, field="circuit")
        circuit = self._find(Circuit, Circuit.create_id(experiment.id, facts.content_hash))
        if circuit is not None:
            return circuit, None
        circuit = Circuit.store(user_id, experiment.id, facts, name)
        return circuit, self._saved(circuit)

    def store_circuit_keyed(
        self, user_id: UUID, experiment_id: str, source: str, name: str, key: str
    ) -> tuple[Circuit, Recorded | None]:
        """Stores a circuit under a client's own key (e.g. the haiqu-sdk's circuit hash) instead
        of the hash of its text: the client finds it again by that key."""
        checked_text("hash", key, self.limits.text.max_key, required=True)
        checked_text("name", name, self.limits.text.max_name)
        experiment = self.owned_experiment(user_id, experiment_id, field="experiment_id")
        facts = replace(self._describe(source, field="qpy_dump"), content_hash=key)
        circuit = self._find(Circuit, Circuit.create_id(experiment.id, key))
        if circuit is not None:
            return circuit, None
        circuit = Circuit.store(user_id, experiment.id, facts, name)
        try:
            return circuit, self._saved(circuit)
        except IntegrityError:  # the same upload, concurrently: it is stored now
            return self.repository.get(circuit.id), None

    def _circuits_for(
        self, user_id: UUID, experiment: Experiment, request: RunRequest
    ) -> tuple[list[Circuit], list[Circuit]]:
        """A run's circuits, and those among them that are new (saved with its job)."""
        circuits: list[Circuit] = []
        new: dict[UUID, Circuit] = {}
        if request.circuits_qasm is not None:
            for index, source in enumerate(request.circuits_qasm):
                field = f"circuits_qasm[{index}]"
                if not isinstance(source, str) or not source.strip():
                    raise RequestError(field, "must be OpenQASM 2.0 or 3.0 text")
                facts = self._describe(source, field=field)
                circuit_id = Circuit.create_id(experiment.id, facts.content_hash)
                circuit = new.get(circuit_id) or self._find(Circuit, circuit_id)
                if circuit is None:
                    circuit = Circuit.store(user_id, experiment.id, facts, name="")
                    new[circuit_id] = circuit
                circuits.append(circuit)
        else:
            for index, given_id in enumerate(request.circuit_ids or []):
                found = self._owned(Circuit, user_id, given_id)
                if found is None:
                    raise RequestError(f"circuit_ids[{index}]", f"unknown circuit {given_id!r}")
                circuits.append(found)
        return circuits, list(new.values())
