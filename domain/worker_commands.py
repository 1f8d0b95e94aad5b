"""A worker's commands: claim a job, renew or release its lease, record what became of it.

The claim is the lock: `Claimed` is appended with optimistic concurrency, so of many workers
exactly one wins, and every later record is accepted only while that claim is held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.application import LRUCache
from eventsourcing.persistence import IntegrityError

from qorch.domain.application_base import ApplicationBase
from qorch.domain.circuit import Circuit
from qorch.domain.errors import Conflict
from qorch.domain.execution import (
    CircuitTask,
    CostEstimate,
    ExecutionOutcome,
    ExecutionTask,
    ObservableSpec,
    ProviderJob,
)
from qorch.domain.job import Job
from qorch.domain.results import OutcomeRecord, record_of, unrecordable


@dataclass(frozen=True)
class Claim:
    job_id: UUID
    task: ExecutionTask
    dry_run: bool
    attempt: int = 1
    provider_job: ProviderJob | None = None
    """Set when an earlier claimant submitted the job to a remote provider: re-attach to it."""
    qubits: int = 0
    """The widest of the job's circuits (their size tells an executor which jobs are small)."""
    gates: int = 0
    """The gates of all the job's circuits, as parsed."""
    control_flow: bool = False
    """Some circuit loops or branches."""
    with_parameters: bool = False
    with_observables: bool = False
    """The levels the job's results have (`qorch.domain.results`): a worker process makes
    the job's `OutcomeRecord` with them."""


KEPT_CLAIMS = 256


class WorkerCommands(ApplicationBase):
    @cached_property
    def _claimed(self) -> LRUCache[UUID, Job]:
        """Jobs as this application last claimed them: the next command on one (its outcome,
        a renewal) starts from there instead of reading the job again. Used once; a job changed
        meanwhile makes that command's write lose on optimistic concurrency, and it is retried
        on the job read afresh."""
        return LRUCache(maxsize=KEPT_CLAIMS)

    def claim_job(
        self, job_id: UUID, worker_id: str, now: float, claimant_dead: bool, lease_seconds: float
    ) -> Claim | None:
        """Records Claimed for this worker; None when another worker holds or finished it."""
        job = self._find(Job, job_id)
        if job is None:
            return None
        try:
            job.claim(worker_id, now, lease_seconds, claimant_dead)
            written = self.save(job)
        except (Conflict, IntegrityError):
            return None
        if written:  # (inside `together` the write comes later, and may fail)
            self._claimed.put(job.id, job)
        provider_job = ProviderJob.from_dict(job.provider_job) if job.provider_job else None
        circuits = [self._circuit(circuit_id) for circuit_id in job.circuit_ids]
        return Claim(
            job.id,
            self._task_for(job, circuits),
            job.dry_run,
            job.attempts,
            provider_job,
            qubits=max((c.qubits for c in circuits), default=0),
            gates=sum(c.gates for c in circuits),
            control_flow=any(c.has_control_flow for c in circuits),
            with_parameters=job.has_parameters,
            with_observables=job.has_observables,
        )

    def renew_lease(self, job_id: UUID, worker_id: str, now: float, lease_seconds: float) -> bool:
        return self._update_held(job_id, lambda job: job.renew_lease(worker_id, now, lease_seconds))

    def release_job(self, job_id: UUID, worker_id: str) -> bool:
        return self._update_held(job_id, lambda job: job.release(worker_id))

    def record_provider_job(self, job_id: UUID, worker_id: str, provider_job: ProviderJob) -> bool:
        return self._update_held(
            job_id, lambda job: job.record_provider_job(worker_id, provider_job.as_dict())
        )

    def record_results(
        self, job_id: UUID, worker_id: str, outcome: ExecutionOutcome | OutcomeRecord
    ) -> bool:
        """Records what ran, with an error in place of each execution that failed; a job none
        of whose executions ran fails with the first one's error instead. A worker process
        answers an `OutcomeRecord` (its results already encoded); an `ExecutionOutcome` is
        made into one here."""

        def record(job: Job) -> None:
            made = outcome
            if isinstance(made, ExecutionOutcome):
                made = record_of(
                    made,
                    with_parameters=job.has_parameters,
                    with_observables=job.has_observables,
                )
            try:
                if made.error is not None:
                    job.record_failure(worker_id, made.error, made.cost)
                    return
                nesting = (made.with_parameters, made.with_observables)
                if nesting != (job.has_parameters, job.has_observables):
                    raise ValueError("the results were nested for another job")
                if made.results_json is None:
                    raise ValueError("neither results nor an error")
                job.record_results_json(worker_id, made.results_json, made.cost)
            except ValueError as error:
                job.record_failure(worker_id, unrecordable(error))

        return self._update_held(job_id, record)

    def record_estimate(self, job_id: UUID, worker_id: str, estimate: CostEstimate) -> bool:
        recorded = {
            "native": {"amount": estimate.seconds, "unit": "s"},
            "converted": {"amount": estimate.usd, "unit": "USD"},
            "circuits": estimate.circuits,
            "breakdown": estimate.breakdown,
        }
        return self._update_held(job_id, lambda job: job.record_estimate(worker_id, recorded))

    def record_failure(self, job_id: UUID, worker_id: str, error: dict[str, Any]) -> bool:
        return self._update_held(job_id, lambda job: job.record_failure(worker_id, error))

    def _update_held(self, job_id: UUID, change: Callable[[Job], None], tries: int = 5) -> bool:
        """Applies a change while this worker holds the job's claim; False once it does not.

        A write that loses a race (IntegrityError) is retried on the reloaded job: the guard in
        `change` decides whether the claim is still held, so a takeover is never overwritten.
        The first try starts from the job as claimed here, when it is kept (`_claimed`).
        """
        for attempt in range(tries):
            kept = self._as_claimed(job_id) if attempt == 0 else None
            job = kept if kept is not None else self._find(Job, job_id)
            if job is None:
                return False
            try:
                change(job)
                self.save(job)
            except Conflict:
                if kept is not None:  # as claimed here: the store may know better
                    continue
                return False
            except IntegrityError:
                continue
            return True
        return False

    def _as_claimed(self, job_id: UUID) -> Job | None:
        try:
            return self._claimed.get(job_id, evict=True)
        except KeyError:
            return None

    def _circuit(self, circuit_id: UUID) -> Circuit:
        """The circuit, from the circuits read before when it is there (it never changes)."""
        found = self._find(Circuit, circuit_id)
        return found if found is not None else self.repository.get(circuit_id)

    def _task_for(self, job: Job, circuits: list[Circuit]) -> ExecutionTask:
        """What a provider needs to run the job: its circuits' text with their inputs."""
        inputs = job.inputs()
        tasks = []
        for index, circuit in enumerate(circuits):
            parameter_sets = inputs["parameters"][index] if job.has_parameters else None
            observables = inputs["observables"][index] if job.has_observables else None
            tasks.append(
                CircuitTask(
                    source=circuit.source,
                    parameter_sets=tuple(tuple(s) for s in parameter_sets)
                    if parameter_sets is not None
                    else None,
                    observables=tuple(
                        ObservableSpec(tuple(labels), tuple(coefficients))
                        for labels, coefficients in observables
                    )
                    if observables is not None
                    else None,
                )
            )
        return ExecutionTask(
            job_id=str(job.id),
            device_id=job.device_id,
            run_type=job.run_type,  # type: ignore[arg-type]
            shots=job.shots,
            circuits=tuple(tasks),
            options=dict(job.options),
            use_mitigation=job.use_mitigation,
            client_token=job.client_token,
        )
