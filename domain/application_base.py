"""What every group of the application's commands shares: the injected ports, and finding,
owning and saving aggregates.

The ports are callables and protocols (circuit parsing, the device catalogue, the provider's
request check, the credential holder), so the domain imports no SDK and no web code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, LRUCache
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    MapperDeserialisationError,
    Notification,
    Recording,
)

from qorch.domain.circuit import Circuit, CircuitFacts
from qorch.domain.devices import Device
from qorch.domain.errors import InvalidCircuit, RequestError, Unreadable
from qorch.domain.experiment import Experiment
from qorch.domain.ports import CredentialHolder
from qorch.domain.requests import Limits

DescribeCircuit = Callable[[str], CircuitFacts]
FindDevice = Callable[[str], Device | None]
CheckOptions = Callable[[Device, str, dict[str, Any], bool], None]
"""Raises ProviderError for options or flags the device's provider would refuse."""
A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")

DEFAULT_DEVICE_ID = "aer_simulator"
KEPT_CIRCUITS = 256
KEPT_SOURCE_CHARS = 64 * 1024
"""Circuits up to this size are kept once read (at most KEPT_CIRCUITS of them: 16 MiB)."""
KEPT_EXPERIMENTS = 1024


class HoldNothing:
    """For applications that never run on remote providers (tests, replay)."""

    def hold(self, job_id: UUID, credentials: dict[str, str]) -> None:
        raise RuntimeError("this application cannot hold provider credentials")

    def destroy(self, job_id: UUID) -> None:
        pass


@dataclass(frozen=True)
class Recorded:
    """What a command recorded: the aggregate and the log position its last event reached."""

    id: UUID
    position: int


class ApplicationBase(Application[UUID]):
    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        describe_circuit: DescribeCircuit,
        find_device: FindDevice,
        check_options: CheckOptions,
        limits: Limits | None = None,
        credentials: CredentialHolder | None = None,
    ) -> None:
        super().__init__(env)
        self.describe_circuit = describe_circuit
        self.find_device = find_device
        self.check_options = check_options
        self.credentials: CredentialHolder = credentials or HoldNothing()
        self.limits = limits or Limits()
        self.listeners: list[Callable[[list[Notification]], None]] = []
        """Called with what every save made here recorded, in log order (wakes local
        followers, which need not read it again)."""
        self._saving = threading.local()
        self._circuits: LRUCache[UUID, Circuit] = LRUCache(maxsize=KEPT_CIRCUITS)
        """Circuits read before: a circuit never changes once stored (`Stored` is its only
        event), so every run of it after the first needs no read of the store."""
        self._run_experiments: LRUCache[tuple[UUID, str], Experiment] = LRUCache(
            maxsize=KEPT_EXPERIMENTS
        )
        """(user, experiment id as given) -> the experiment, as found for a run (JobCommands)."""

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        deferred: list[Any] | None = getattr(self._saving, "deferred", None)
        if deferred is not None:  # inside `together`: written with the others at the end
            deferred.extend(objs)
            return []
        return super().save(*objs, **kwargs)

    def together(self, calls: Sequence[Callable[[], T]]) -> list[T | Exception]:
        """Runs commands on different aggregates with all their saves in one transaction (one
        commit for a batch of jobs); each answers its value or the error it raised. If that
        write fails (one aggregate changed meanwhile), every command runs again on its own, so
        each answers as it would have alone. Only for commands that do not read what `save`
        answers."""
        deferred: list[Any] = []
        self._saving.deferred = deferred
        try:
            answers = [_answer(call) for call in calls]
        finally:
            self._saving.deferred = None
        try:
            if deferred:
                self.save(*deferred)
            return answers
        except IntegrityError:
            return [_answer(call) for call in calls]

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        if recordings:
            notifications = [recording.notification for recording in recordings]
            for listener in self.listeners:
                listener(notifications)

    def _device(self, device_id: str) -> Device:
        device = self.find_device(device_id)
        if device is None:
            raise RequestError(
                "device_id",
                f"unknown device {device_id!r}; list_qpus_and_simulators shows the available ids",
            )
        return device

    def _describe(self, source: str, field: str) -> CircuitFacts:
        try:
            return self.describe_circuit(source)
        except InvalidCircuit as error:
            raise RequestError(field, str(error)) from error

    def _saved(self, aggregate: Aggregate) -> Recorded:
        recordings = self.save(aggregate)
        return Recorded(aggregate.id, recordings[-1].notification.id)

    def _owned(self, kind: type[A], user_id: UUID, object_id: str | UUID) -> A | None:
        found = self._find(kind, object_id)
        if found is None or getattr(found, "user_id", None) != user_id:
            return None
        return found

    def _find(self, kind: type[A], object_id: str | UUID) -> A | None:
        try:
            aggregate_id = object_id if isinstance(object_id, UUID) else UUID(str(object_id))
        except ValueError:
            return None
        if kind is Circuit:
            try:
                return self._circuits.get(aggregate_id)  # type: ignore[return-value]
            except KeyError:
                pass
        try:
            found: Aggregate = self.repository.get(aggregate_id, projector_func=_mutated)
        except AggregateNotFoundError:
            return None
        except MapperDeserialisationError as error:
            raise Unreadable(aggregate_id) from error
        if isinstance(found, Circuit) and len(found.source) <= KEPT_SOURCE_CHARS:
            self._circuits.put(aggregate_id, found)
        return found if isinstance(found, kind) else None


def _mutated(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's `project_aggregate` without its per-event `isinstance` check against a
    runtime-checkable Protocol, which costs several times the mutation itself (~35 us a read
    on Python 3.11): every event read here is one of the domain's own classes."""
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def _answer(call: Callable[[], T]) -> T | Exception:
    try:
        return call()
    except Exception as error:
        return error
