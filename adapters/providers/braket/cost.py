"""What a finished Braket job cost, computed from what really ran and qorch's price table.

QPUs: the per-task fee for each task that executed shots, plus the per-shot fee for every shot
executed (a program set's executions together: Braket's `numSuccessfulShots`). A task that
ended FAILED or CANCELLED without executing shots costs nothing, as Braket's own cost tracker
(`braket.tracking`) counts it. Managed simulators: per minute of each task's reported execution
duration (with the table's minimum per task); no cost when a task did not report one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qorch.adapters.providers.braket.catalogue import Spec
from qorch.adapters.providers.pipeline.prices import load_prices
from qorch.domain.execution import ActualCost
from qorch.domain.pricing import usage_cost


@dataclass(frozen=True)
class Usage:
    """One Braket task, once it ended."""

    shots: int
    """Shots it executed (0 for a task that failed before running)."""
    seconds: float | None = None
    """Execution duration a managed simulator reported."""


def actual_cost(spec: Spec, usages: Sequence[Usage]) -> ActualCost | None:
    if spec.price_key is None:
        return None
    prices = load_prices()
    billed = [usage for usage in usages if usage.shots > 0]
    shots = sum(usage.shots for usage in billed)
    if prices["entries"][spec.price_key]["model"] == "per_minute":
        seconds = [usage.seconds for usage in billed]
        if any(value is None for value in seconds):
            return None
        durations = [float(value) for value in seconds if value is not None]
        usd = usage_cost(
            prices, spec.price_key, tasks=len(billed), shots=shots, task_seconds=durations
        )
        return ActualCost(usd, "computed", tasks=len(usages), shots=shots, seconds=sum(durations))
    usd = usage_cost(prices, spec.price_key, tasks=len(billed), shots=shots)
    return ActualCost(usd, "computed", tasks=len(usages), shots=shots)
