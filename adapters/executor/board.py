"""What the log says about open jobs: who may claim which, whose they are, which are stuck.

The board is fed notifications by the executor's log follower. Only lease events are decoded
(Submitted can carry a large parameter sweep); a job's owner, priority and needs (what its
device requires of a worker, e.g. a GPU) are read once, from its first event, in a worker thread.
A job just submitted is the exception: a small Submitted among the first of a page is decoded
where it is tracked, when nothing else about it must be read from the store, so that the job is
claimed without a trip to a worker thread and a read first (`INLINE_BYTES`).
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
INLINE_BYTES = 4096
INLINE_PER_PAGE = 8
"""A Submitted event of at most INLINE_BYTES, among the first INLINE_PER_PAGE of a page, is read
as it is tracked (a Bell job's is under 1 KiB); a backlog is read in a worker thread."""
SUBMITTED_TOPIC = get_topic(Job.Submitted)


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
        inline = INLINE_PER_PAGE
        for notification in notifications:
            job_id = UUID(str(notification.originator_id))
            topic = notification.topic
            if job_id in self.set_aside:
                continue
            if topic in OPENING_TOPICS:
                known = self.open.get(job_id)  # Released: still open, its owner known
                self.open[job_id] = state = OpenJob(
                    opened_at=known.opened_at if known else notification.id,
                    user=known.user if known else None,
                    priority=known.priority if known else 0,
                    batch_device=known.batch_device if known else "",
                    needs=known.needs if known else "",
                )
                if state.user is None and topic == SUBMITTED_TOPIC and inline > 0:
                    inline -= 1
                    self._learn_inline(notification, state)
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
                owner = self._owner(self.app.mapper.to_domain_event(first[0]))
                assert owner is not None  # what it needs is read
                found[job_id] = owner
            except Exception as error:  # whatever the decoding raised: it cannot be read
                found[job_id] = error
        return found

    def _learn_inline(self, notification: Notification, state: OpenJob) -> None:
        if len(notification.state) > INLINE_BYTES:
            return
        try:
            owner = self._owner(self.app.mapper.to_domain_event(notification), read=False)
        except Exception:
            return  # read again by learn_owners, which sets the job aside if it must
        if owner is not None:
            state.user, state.priority, state.batch_device, state.needs = owner

    def _owner(self, first: Any, read: bool = True) -> Owner | None:
        """What the job's first event says; None when that takes a read of the store and
        `read` is False (its circuits' sizes are not known yet, or its device is listed only
        while a worker advertises it)."""
        known = self.requires(first.device_id) if self.requires is not None else ()
        if known and not read:
            return None
        device = self.app.find_device(first.device_id)
        batch_device = self._batch_device(first, device, read)
        if batch_device is None:
            return None
        needs = needs_of((*known, *(device.requires if device is not None else ())))
        return str(first.user_id), int(first.priority), batch_device, needs

    def _batch_device(self, submitted: Any, device: Device | None, read: bool) -> str | None:
        if device is None or device.remote or submitted.dry_run:
            return ""
        if len(submitted.inputs_json) > SWEEP_TEXT:
            return ""
        found = [self._size_of(circuit_id, read) for circuit_id in submitted.circuit_ids]
        sizes = [size for size in found if size is not None]
        if len(sizes) < len(found):
            return None
        small = is_small(
            max((qubits for qubits, _, _ in sizes), default=0),
            sum(gates for _, gates, _ in sizes),
            any(control_flow for _, _, control_flow in sizes),
            submitted.shots,
            1,
        )
        return device.id if small else ""

    def _size_of(self, circuit_id: UUID, read: bool = True) -> tuple[int, int, bool] | None:
        """A circuit's qubits, gates and whether it loops or branches; circuits are shared by
        many jobs and never change what they hold, so each is read once (None: not read yet,
        and `read` is False)."""
        size = self._sizes.get(circuit_id)
        if size is None and not read:
            return None
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
