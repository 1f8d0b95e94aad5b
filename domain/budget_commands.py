"""Budgets: an operator's limits on what a user's runs on paid devices may cost, and the
reservations that hold a run's estimate from its submit until it has ended.

- `set_budget`, `clear_budget`: the operator's commands (`qorch budget ...`); no entrypoint a
  user reaches changes a budget. `budget_status`: where a user's budget stands.
- `_reserve`: the submit and restart commands save the Budget it answers in the same save as
  the job, so a job never exists without its reservation, nor a reservation without its job.
- Settlement: a job's reservation is closed in the first save that touches its budget after the
  job ended (the user's cancel, a later submit or restart), from what the job recorded. So it
  happens once (the reservation is open only once, and the Budget is saved with optimistic
  concurrency), needs no follower and no tracked position, and a restart of qorch loses nothing.
  `budget_status` counts ended jobs as settled before that save comes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from qorch.domain.application_base import Recorded
from qorch.domain.budget import Budget
from qorch.domain.circuit import Circuit
from qorch.domain.devices import Device
from qorch.domain.errors import Conflict, NotFound, RequestError, Unreadable
from qorch.domain.execution import CostEstimate, ExecutionTask, ProviderError
from qorch.domain.job import Job, JobStatus
from qorch.domain.ports import EstimateCost
from qorch.domain.user import User
from qorch.domain.worker_commands import WorkerCommands

T = TypeVar("T")

SAVE_TRIES = 32
"""Saves that lose an optimistic-concurrency race are tried again this often: a user's paid
submits all save their one Budget, so N concurrent submits need up to N rounds."""


@dataclass
class Pricing:
    """A command's cost estimate, made at most once however often its save is retried (every
    attempt prices the same task)."""

    usd: float | None = None


class BudgetCommands(WorkerCommands):
    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        estimate_cost: EstimateCost | None = None,
        clock: Callable[[], float] = time.time,
        **ports: Any,
    ) -> None:
        super().__init__(env, **ports)
        self.estimate_cost: EstimateCost = estimate_cost or cannot_estimate
        self.clock = clock
        """POSIX seconds now: a monthly limit's month is the UTC month of this."""

    def set_budget(
        self, user_id: UUID, usd: float, period: str = "total", provider: str | None = None
    ) -> Recorded:
        """Sets (or replaces) the user's limit on `provider` (None: on all providers together)."""
        Budget.check_limit(usd, period, provider)
        if self._find(User, user_id) is None:
            raise NotFound("user", user_id)

        def attempt() -> Recorded:
            budget = self._find(Budget, Budget.create_id(user_id)) or Budget(user_id=user_id)
            budget.set_limit(usd, period, provider)
            return self._saved(budget)

        return self._until_saved(attempt, "the budget kept changing concurrently; retry")

    def clear_budget(self, user_id: UUID, provider: str | None = None) -> Recorded:
        """Removes the user's limit on `provider` (None: the one on all providers)."""

        def attempt() -> Recorded:
            budget = self._find(Budget, Budget.create_id(user_id))
            if budget is None:
                raise Conflict("the user has no budget")
            budget.clear_limit(provider)
            return self._saved(budget)

        return self._until_saved(attempt, "the budget kept changing concurrently; retry")

    def budget_status(self, user_id: UUID, now: float | None = None) -> list[dict[str, Any]]:
        """Per limit of the user's budget (none: []): provider (None: all providers), period
        ("total" or "month"), period_key ("total" or the UTC month, "2026-03"), limit_usd,
        reserved_usd (jobs not ended yet), spent_usd and left_usd."""
        budget = self._find(Budget, Budget.create_id(user_id))
        if budget is None:
            return []
        self._settle_ended(budget)  # in memory only: a query records nothing
        return budget.status(self.clock() if now is None else now)

    # --- for the job commands ---

    def _reserve(
        self,
        user_id: UUID,
        job: Job,
        now: float,
        pricing: Pricing,
        new_circuits: Sequence[Circuit] = (),
    ) -> list[Budget]:
        """The user's budget with the job's estimate reserved, to save with the job ([] when
        the device is free or no budget limits its provider). `new_circuits`: the job's
        circuits that are not stored yet. Raises BudgetExceeded when the estimate is more than
        a limit has left."""
        device = self._device(job.device_id)
        if device.price_key is None or job.dry_run:
            return []
        budget = self._find(Budget, Budget.create_id(user_id))
        if budget is None or not budget.applies_to(device.provider):
            return []
        self._settle_ended(budget)
        if pricing.usd is None:
            unsaved = {circuit.id: circuit for circuit in new_circuits}
            circuits = [unsaved.get(c) or self.repository.get(c) for c in job.circuit_ids]
            pricing.usd = self._estimate(job, circuits, device).usd
        budget.reserve(job.id, pricing.usd, device.provider, now)
        return [budget]

    def _closing(self, job: Job) -> list[Budget]:
        """The budget of a job that has just ended, with its reservation closed, to save with
        the job ([] when it holds none)."""
        budget = self._find(Budget, Budget.create_id(job.user_id))
        if budget is None or job.id not in budget.open:
            return []
        _close(budget, job)
        return [budget]

    def _settle_ended(self, budget: Budget) -> None:
        """Closes the reservations of jobs that have ended since (in memory)."""
        for job_id in list(budget.open):
            try:
                job = self._find(Job, job_id)
            except Unreadable:
                continue  # set aside for an operator: its reservation stays held
            if job is not None and job.status.is_final:
                _close(budget, job)

    def _estimate(self, job: Job, circuits: Sequence[Circuit], device: Device) -> CostEstimate:
        # Without the job's id: every attempt at a submit, and every job, prices the same task.
        task = replace(self._task_for(job, list(circuits)), job_id="", client_token="")
        try:
            return self.estimate_cost(device, task)
        except ProviderError as error:
            field = error.field or "device_id"
            raise RequestError(field, error.message.removeprefix(f"{field}: ")) from error

    def _until_saved(self, attempt: Callable[[], T], conflict: str) -> T:
        """`attempt` (get, change, save) again while its save loses an optimistic-concurrency
        race, after a short random pause so that racing saves spread out; then Conflict."""
        for tries in range(SAVE_TRIES):
            try:
                return attempt()
            except IntegrityError:
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2**tries)))
        raise Conflict(conflict)


def cost_of(job: Job, estimate: float) -> float | None:
    """What a job that ended cost: its actual cost where its provider reported one, else its
    estimate; None when it never reached its provider (cancelled or failed before that)."""
    if job.actual_cost is not None:
        return float(job.actual_cost["usd"])
    if job.status is JobStatus.DONE or job.provider_job is not None:
        return estimate  # it ran, or may have: the provider may bill what ran before a cancel
    return None


def _close(budget: Budget, job: Job) -> None:
    cost = cost_of(job, budget.open[job.id].usd)
    if cost is None:
        budget.release(job.id)
    else:
        budget.settle(job.id, cost)


def cannot_estimate(device: Device, task: ExecutionTask) -> CostEstimate:
    raise ProviderError(
        "estimate_unavailable",
        f"this qorch cannot estimate what a run on {device.id} costs, so it cannot check it "
        "against your budget",
    )
