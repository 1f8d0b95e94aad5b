"""What the log says about open jobs: who may claim which, whose they are, which are stuck.

The board is fed notifications by the executor's log follower. Only lease events are decoded
(Submitted can carry a large parameter sweep); a job's owner, priority and needs (what its
device requires of a worker, e.g. a GPU) are read once, from its first event, in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import anyio.to_thread
from eventsourcing.persistence import MapperDeserialisationError, Notification
from eventsourcing.utils import get_topic

from qorch.adapters.executor.batch import is_small
from qorch.adapters.executor.capabilities import Requires, can_run, needs_of
from qorch.adapters.executor.workers import claimant_is_dead
from qorch.adapters.scheduling import Candidate
from qorch.domain.application import Qorch
from qorch.domain.circuit import Circuit
from qorch.domain.devices import Device
from qorch.domain.errors import Unreadable
from qorch.domain.job import CLOSING, LEASING, OPENING, Job

log = logging.getLogger("qorch.executor")

OPENING_TOPICS = {get_topic(cls) for cls in OPENING}
CLOSING_TOPICS = {get_topic(cls) for cls in CLOSING}
JOB_TOPICS = [get_topic(cls) for cls in (*OPENING, *CLOSING, *LEASING)]
CLAIMED_TOPIC = get_topic(Job.Claimed)
CANCELLED_TOPIC = get_topic(Job.Cancelled)
RESTARTED_TOPIC = get_topic(Job.Restarted)
CIRCUITS_KEPT = 10_000
OWNERS_PER_READ = 500
"""Owners of newly opened jobs looked up in one worker-thread call."""
UNREADABLE = (MapperDeserialisationError, Unreadable)
"""A stored event of the job cannot be decoded: the job is set aside, the rest goes on."""


Owner = tuple[str, int, str, str]
"""What a job's first event says: its user, its priority, the local device it may run on with
other small jobs ("" when it runs alone), and what a worker needs to run it."""
SWEEP_TEXT = 4096
"""Inputs longer than this may hold many parameter sets: such a job is not taken as small."""


@dataclass
class OpenJob:
    worker_id: str | None = None
    lease_until: float = 0.0
    not_before: float = 0.0
    opened_at: int = 0
    """Log position of the event that opened the job (its age, for the order of a user's jobs)."""
    user: str | None = None
    """Looked up once, from the job's first event, when the job is first considered."""
    priority: int = 0
    batch_device: str = ""
    """The local device this job may run on together with other small jobs; "" to run alone."""
    needs: str = ""
    """Capabilities a worker must have to claim it (capabilities.py); "" for none."""


class JobBoard:
    def __init__(self, app: Qorch, requires: Requires | None = None) -> None:
        self.app = app
        self.requires = requires
        self.has: frozenset[str] = frozenset()
        """This worker's capabilities: jobs that need others are never its candidates."""
        self.open: dict[UUID, OpenJob] = {}
        self.set_aside: dict[UUID, str] = {}
        """Jobs with an event that cannot be decoded: never claimed again by this executor."""
        self.closed: list[UUID] = []
        """Jobs that ended since the vault was last swept: their credentials are destroyed."""
        self._sizes: dict[UUID, tuple[int, int, bool]] = {}

    def track(self, notifications: Sequence[Notification]) -> list[UUID]:
        """Takes in what the log says; answers the jobs cancelled by their users."""
        cancelled: list[UUID] = []
        for notification in notifications:
            job_id = UUID(str(notification.originator_id))
            topic = notification.topic
            if job_id in self.set_aside:
                continue
            if topic in OPENING_TOPICS:
                known = self.open.get(job_id)  # Released: still open, its owner known
                self.open[job_id] = OpenJob(
                    opened_at=known.opened_at if known else notification.id,
                    user=known.user if known else None,
                    priority=known.priority if known else 0,
                    batch_device=known.batch_device if known else "",
                    needs=known.needs if known else "",
                )
                if topic == RESTARTED_TOPIC and job_id in self.closed:
                    # Restarted with fresh credentials: they must outlive the earlier ending.
                    self.closed = [closed for closed in self.closed if closed != job_id]
            elif topic in CLOSING_TOPICS:
                self.open.pop(job_id, None)
                self.closed.append(job_id)
                if topic == CANCELLED_TOPIC:
                    cancelled.append(job_id)
            elif job_id in self.open:
                try:
                    event: Any = self.app.mapper.to_domain_event(notification)
                except Exception as error:
                    self.put_aside(job_id, notification.id, error)
                    continue
                state = self.open[job_id]
                if topic == CLAIMED_TOPIC:
                    state.worker_id = event.worker_id
                state.lease_until = event.lease_until
        return cancelled

    def claimable(self, now: float, skip: Container[UUID]) -> tuple[list[Candidate], float]:
        """The jobs one may claim now (not in `skip`), and the seconds until the soonest held
        lease may lapse (infinite when none is held)."""
        candidates: list[Candidate] = []
        soonest = float("inf")
        for job_id, state in self.open.items():
            if state.user is None or job_id in skip or now < state.not_before:
                continue
            if not can_run(state.needs, self.has):
                continue
            lapsed = state.worker_id is None or now >= state.lease_until
            if lapsed or claimant_is_dead(state.worker_id):
                candidates.append(Candidate(job_id, state.user, state.priority, state.opened_at))
            else:
                soonest = min(soonest, max(0.05, state.lease_until - now))
        return candidates, soonest

    def postpone(self, job_id: UUID, until: float) -> None:
        state = self.open.get(job_id)
        if state is not None:
            state.not_before = until

    async def learn_owners(self) -> None:
        """Looks up the owner and priority of jobs opened since the last look: one small read
        per job, once, in a worker thread."""
        unknown = [job_id for job_id, state in self.open.items() if state.user is None]
        for start in range(0, len(unknown), OWNERS_PER_READ):
            chunk = unknown[start : start + OWNERS_PER_READ]
            found = await anyio.to_thread.run_sync(self._read_owners, chunk)
            for job_id, owner in found.items():
                state = self.open.get(job_id)
                if state is None:
                    continue
                if isinstance(owner, Exception):
                    self.put_aside(job_id, state.opened_at, owner)
                else:
                    state.user, state.priority, state.batch_device, state.needs = owner

    def _read_owners(self, job_ids: list[UUID]) -> dict[UUID, Owner | Exception]:
        found: dict[UUID, Owner | Exception] = {}
        for job_id in job_ids:
            first = self.app.recorder.select_events(job_id, limit=1)  # the store's errors raise
            if not first:
                continue  # not stored (yet): looked up again on the next pass
            try:
                event: Any = self.app.mapper.to_domain_event(first[0])
                device = self.app.find_device(event.device_id)
                found[job_id] = (
                    str(event.user_id),
                    int(event.priority),
                    self._batch_device(event, device),
                    self._needs(event.device_id, device),
                )
            except Exception as error:  # whatever the decoding raised: it cannot be read
                found[job_id] = error
        return found

    def _needs(self, device_id: str, device: Device | None) -> str:
        known = self.requires(device_id) if self.requires is not None else ()
        return needs_of((*known, *(device.requires if device is not None else ())))

    def _batch_device(self, submitted: Any, device: Device | None) -> str:
        if device is None or device.remote or submitted.dry_run:
            return ""
        if len(submitted.inputs_json) > SWEEP_TEXT:
            return ""
        sizes = [self._size_of(circuit_id) for circuit_id in submitted.circuit_ids]
        small = is_small(
            max((qubits for qubits, _, _ in sizes), default=0),
            sum(gates for _, gates, _ in sizes),
            any(control_flow for _, _, control_flow in sizes),
            submitted.shots,
            1,
        )
        return device.id if small else ""

    def _size_of(self, circuit_id: UUID) -> tuple[int, int, bool]:
        """A circuit's qubits, gates and whether it loops or branches; circuits are shared by
        many jobs and never change what they hold, so each is read once."""
        size = self._sizes.get(circuit_id)
        if size is None:
            if len(self._sizes) >= CIRCUITS_KEPT:
                self._sizes.clear()
            circuit: Circuit = self.app.repository.get(circuit_id)
            size = self._sizes[circuit_id] = (
                circuit.qubits,
                circuit.gates,
                circuit.has_control_flow,
            )
        return size

    def put_aside(self, job_id: UUID, position: int | None, error: BaseException) -> None:
        """A job whose stored events cannot be decoded: it is left alone (an operator repairs
        it), and every other job goes on."""
        state = self.open.pop(job_id, None)
        if position is None:
            position = state.opened_at if state else 0
        self.set_aside[job_id] = f"{type(error).__name__}: {error}"
        log.error(
            "job %s set aside: an event of it (log position %s) cannot be read: %s: %s",
            job_id,
            position,
            type(error).__name__,
            error,
        )
