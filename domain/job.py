"""The Job aggregate: a run request's life as events.

Submitted ─┬─ Claimed ─┬─ DryRunEstimated            (Done)
           │           ├─ [ProviderJobRecorded] ─ Executed (Done; a remote provider's job id is
           │           │                           recorded first, so a restart re-attaches)
           │           ├─ Executed                   (Done)
           │           ├─ Failed                     (Error)
           │           └─ Claimed (lease taken over after a crash)
           └─ Cancelled (before or during execution)
A final job may be Restarted: it is Submitted again, under the same id, and runs once more.
A worker that shuts down Releases the jobs it holds: they are Queued again at once.

The client-visible status is derived from the last event (STATUS_AFTER, at the bottom, is the
one rule for aggregate and views alike), never stored twice.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeAlias
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from pydantic_core import from_json, to_json

from qorch.domain.costs import recorded_cost
from qorch.domain.errors import Conflict
from qorch.domain.execution import ActualCost
from qorch.domain.fields import from_opaque_json, opaque_json


class JobStatus(StrEnum):
    SUBMITTED = "Submitted"
    INITIALIZING = "Initializing"
    QUEUED = "Queued"
    VALIDATING = "Validating"
    RUNNING = "Running"
    CANCELLED = "Cancelled"
    DONE = "Done"
    ERROR = "Error"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.CANCELLED, JobStatus.DONE, JobStatus.ERROR})


class Job(Aggregate):
    class Submitted(Aggregate.Created):
        """Version 2 added `priority` (0 = normal); version 1 events read as priority 0.
        Version 3 records the free-form `options` as one opaque JSON text (`options_json`)."""

        class_version = 3

        user_id: UUID
        experiment_id: UUID
        name: str
        description: str
        circuit_ids: list[UUID]
        device_id: str
        shots: int
        run_type: str
        inputs_json: str
        has_parameters: bool
        has_observables: bool
        options_json: str
        credentials_supplied: list[str]
        use_mitigation: bool
        dry_run: bool
        priority: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["priority"] = 0

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["options_json"] = opaque_json(state.pop("options"))

    # A stored topic is module + qualname (`qorch.domain.job:Job.Claimed`), so these classes read
    # the events recorded when they were still declared by name (`@event("Claimed")`).

    class Claimed(Aggregate.Event):
        """A worker holds the job until `lease_until`; a second one takes a lapsed lease over."""

        worker_id: str
        lease_until: float

    class LeaseRenewed(Aggregate.Event):
        lease_until: float

    class Released(Aggregate.Event):
        """The worker shut down and handed the job back."""

    class ProviderJobRecorded(Aggregate.Event):
        provider_job: dict[str, Any]

    class DryRunEstimated(Aggregate.Event):
        estimate: dict[str, Any]

    class Executed(Aggregate.Event):
        """Version 2 added `cost`: what the run cost on a paid device (domain/costs.py), None
        elsewhere; version 1 events read with cost None."""

        class_version = 2

        results_json: str
        cost: dict[str, Any] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["cost"] = None

    class Failed(Aggregate.Event):
        """Version 2 added `cost`, for a run that failed after the provider billed its work;
        version 1 events read with cost None."""

        class_version = 2

        error: dict[str, Any]
        cost: dict[str, Any] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["cost"] = None

    class Cancelled(Aggregate.Event):
        reason: str

    class Restarted(Aggregate.Event):
        """A final job runs again under the same id."""

    @event(Submitted)
    def __init__(
        self,
        user_id: UUID,
        experiment_id: UUID,
        name: str,
        description: str,
        circuit_ids: list[UUID],
        device_id: str,
        shots: int,
        run_type: str,
        inputs_json: str,
        has_parameters: bool,
        has_observables: bool,
        options_json: str,
        credentials_supplied: list[str],
        use_mitigation: bool,
        dry_run: bool,
        priority: int = 0,
    ) -> None:
        self.user_id = user_id
        self.experiment_id = experiment_id
        self.name = name
        self.description = description
        self.circuit_ids = circuit_ids
        self.device_id = device_id
        self.shots = shots
        self.run_type = run_type
        # Parameter sweeps can hold 10^5 numbers: kept as one JSON text (see record_results).
        self.inputs_json = inputs_json
        self.has_parameters = has_parameters
        self.has_observables = has_observables
        self.options_json = options_json
        self.credentials_supplied = credentials_supplied
        self.use_mitigation = use_mitigation
        self.dry_run = dry_run
        self.priority = priority
        self.status = STATUS_AFTER[Job.Submitted]
        self.worker_id: str | None = None
        self.lease_until = 0.0
        self.attempts = 0
        self.runs = 1
        self.provider_job: dict[str, Any] | None = None
        self.actual_cost: dict[str, Any] | None = None
        """What the latest run cost on a paid device ({usd, source, tasks, shots, seconds});
        None until it ends, and where nothing was billed."""

    @staticmethod
    def encode_inputs(
        parameters: list[list[list[float]]] | None, observables: list[list[list[Any]]] | None
    ) -> str:
        return to_json({"parameters": parameters, "observables": observables}).decode()

    @property
    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = from_opaque_json(self.options_json)
        return options

    def inputs(self) -> dict[str, Any]:
        """The canonical parameters and observables: {"parameters": ..., "observables": ...}."""
        decoded: dict[str, Any] = from_json(self.inputs_json)
        return decoded

    # --- claiming: optimistic concurrency lets exactly one worker record Claimed ---

    def claim(self, worker_id: str, now: float, lease_seconds: float, claimant_dead: bool) -> None:
        self.check_claimable(now, claimant_dead)
        self._claimed(worker_id=worker_id, lease_until=now + lease_seconds)

    def check_claimable(self, now: float, claimant_dead: bool) -> None:
        if self.status in (JobStatus.QUEUED, JobStatus.SUBMITTED):
            return
        if self.status is JobStatus.RUNNING and (claimant_dead or now >= self.lease_until):
            return
        raise Conflict(f"job {self.id} is {self.status.value} and held until {self.lease_until}")

    @event(Claimed)
    def _claimed(self, worker_id: str, lease_until: float) -> None:
        self.status = STATUS_AFTER[Job.Claimed]
        self.worker_id = worker_id
        self.lease_until = lease_until
        self.attempts += 1

    def renew_lease(self, worker_id: str, now: float, lease_seconds: float) -> None:
        self.check_held_by(worker_id)
        self._lease_renewed(lease_until=now + lease_seconds)

    @event(LeaseRenewed)
    def _lease_renewed(self, lease_until: float) -> None:
        self.lease_until = lease_until

    def check_held_by(self, worker_id: str) -> None:
        if self.status is not JobStatus.RUNNING or self.worker_id != worker_id:
            raise Conflict(f"job {self.id} is not held by {worker_id}")

    def release(self, worker_id: str) -> None:
        """A worker shutting down hands its job back: any worker may claim it at once."""
        self.check_held_by(worker_id)
        self._released()

    @event(Released)
    def _released(self) -> None:
        self.status = STATUS_AFTER[Job.Released]
        self._clear_claim()

    def _clear_claim(self) -> None:
        self.worker_id = None
        self.lease_until = 0.0

    def record_provider_job(self, worker_id: str, provider_job: dict[str, Any]) -> None:
        """The provider accepted the job: from now on it is polled there, never resubmitted."""
        self.check_held_by(worker_id)
        self.check_no_provider_job()
        self._provider_job_recorded(provider_job=provider_job)

    def check_no_provider_job(self) -> None:
        if self.provider_job is not None:
            raise Conflict(f"job {self.id} already has a provider job")

    @event(ProviderJobRecorded)
    def _provider_job_recorded(self, provider_job: dict[str, Any]) -> None:
        self.provider_job = provider_job

    @property
    def client_token(self) -> str:
        """What providers get as an idempotency key: the job id, plus the run after a restart."""
        return str(self.id) if self.runs == 1 else f"{self.id}-r{self.runs}"

    # --- outcomes ---

    def record_estimate(self, worker_id: str, estimate: dict[str, Any]) -> None:
        self.check_held_by(worker_id)
        self._dry_run_estimated(estimate=estimate)

    @event(DryRunEstimated)
    def _dry_run_estimated(self, estimate: dict[str, Any]) -> None:
        self.status = STATUS_AFTER[Job.DryRunEstimated]

    def record_results(
        self, worker_id: str, results: dict[str, Any], cost: ActualCost | None = None
    ) -> None:
        self.check_held_by(worker_id)
        self.record_results_json(worker_id, to_json(results).decode(), cost)

    def record_results_json(
        self, worker_id: str, results_json: str, cost: ActualCost | None = None
    ) -> None:
        """`results_json`: the results' JSON object as text, encoded where they were made (a
        worker process: `qorch.domain.results.record_of`)."""
        self.check_held_by(worker_id)
        # Results can hold millions of numbers: recorded as one JSON text, the event store's
        # transcoder and the projection handle a single string instead of walking every value.
        if not isinstance(results_json, str) or not results_json.startswith("{"):
            raise ValueError("results must be recorded as the text of a JSON object")
        self._executed(results_json=results_json, cost=recorded_cost(cost))

    @event(Executed)
    def _executed(self, results_json: str, cost: dict[str, Any] | None) -> None:
        self.status = STATUS_AFTER[Job.Executed]
        self.actual_cost = cost

    def record_failure(
        self, worker_id: str, error: dict[str, Any], cost: ActualCost | None = None
    ) -> None:
        """`cost`: what the provider billed for the work that ran before the job failed."""
        self.check_held_by(worker_id)
        self._failed(error=error, cost=recorded_cost(cost))

    def reject(self, error: dict[str, Any]) -> None:
        """Fails a job that cannot start at all (e.g. its device left the catalogue)."""
        self.check_not_final()
        self._failed(error=error, cost=None)

    @event(Failed)
    def _failed(self, error: dict[str, Any], cost: dict[str, Any] | None) -> None:
        self.status = STATUS_AFTER[Job.Failed]
        self.actual_cost = cost

    def cancel(self, reason: str) -> None:
        self.check_not_final()
        self._cancelled(reason=reason)

    @event(Cancelled)
    def _cancelled(self, reason: str) -> None:
        self.status = STATUS_AFTER[Job.Cancelled]

    def restart(self) -> None:
        """Runs a finished job again under the same id (its earlier outcome stays in the log)."""
        self.check_final()
        self._restarted()

    @event(Restarted)
    def _restarted(self) -> None:
        self.status = STATUS_AFTER[Job.Restarted]
        self._clear_claim()
        self.runs += 1
        self.provider_job = None
        self.actual_cost = None  # the earlier run's cost stays in the log (and in usage)

    def check_not_final(self) -> None:
        if self.status.is_final:
            raise Conflict(f"job {self.id} is already {self.status.value}")

    def check_final(self) -> None:
        if not self.status.is_final:
            raise Conflict(f"job {self.id} is still {self.status.value}: nothing to restart")

    def is_owned_by(self, user_id: UUID) -> bool:
        return self.user_id == user_id


# --- the status rules, once: executor, projections, audit and dashboard import these ---

EventClass: TypeAlias = type[Aggregate.Event]

STATUS_AFTER: dict[EventClass, JobStatus] = {
    Job.Submitted: JobStatus.QUEUED,
    Job.Claimed: JobStatus.RUNNING,
    Job.Released: JobStatus.QUEUED,
    Job.DryRunEstimated: JobStatus.DONE,
    Job.Executed: JobStatus.DONE,
    Job.Failed: JobStatus.ERROR,
    Job.Cancelled: JobStatus.CANCELLED,
    Job.Restarted: JobStatus.SUBMITTED,
}
"""The status each event leads to; the others (LeaseRenewed, ProviderJobRecorded) keep it."""
OPENING: tuple[EventClass, ...] = (Job.Submitted, Job.Restarted, Job.Released)
"""After these a job waits for a worker to claim it."""
CLOSING: tuple[EventClass, ...] = (Job.DryRunEstimated, Job.Executed, Job.Failed, Job.Cancelled)
"""These end a job: its status is final."""
LEASING: tuple[EventClass, ...] = (Job.Claimed, Job.LeaseRenewed)
"""These give a worker its hold on a job, or extend it."""
QUIET: tuple[EventClass, ...] = (Job.LeaseRenewed,)
"""These change nothing a person sees: not streamed to the dashboard."""
BY_USER: tuple[EventClass, ...] = (Job.Submitted, Job.Cancelled, Job.Restarted)
"""Recorded on the job owner's behalf (the audit log names the user as the actor)."""
BY_WORKER: tuple[EventClass, ...] = (
    Job.Claimed,
    Job.LeaseRenewed,
    Job.Executed,
    Job.Failed,
    Job.DryRunEstimated,
)
"""Recorded by the worker holding the claim (the audit log names that worker)."""
