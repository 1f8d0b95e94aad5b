"""Routes a task to the provider adapter that owns its device; runs inside worker processes."""

from __future__ import annotations

from qorch.adapters import aer
from qorch.domain.execution import CostEstimate, ExecutionOutcome, ExecutionTask


def run_task(task: ExecutionTask) -> ExecutionOutcome:
    return aer.run_task(task)


def estimate_task(task: ExecutionTask) -> CostEstimate:
    return aer.estimate_task(task)


def warm_up() -> None:
    aer.warm_up()
