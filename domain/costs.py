"""What a run on a paid device cost, as a job records it: every field checked to its type.

A provider reports the cost with its outcome (`ActualCost`); the job records it with the event
that ends the run (Executed, or Failed when the provider's work ran and was billed all the same).
Checked before the event is triggered: a recorded cost is always a plain, well-typed dict.
"""

from __future__ import annotations

import math
from typing import Any

from qorch.domain.execution import ActualCost

COST_SOURCES = ("reported", "computed")
"""reported: the provider's own figure; computed: its usage x qorch's price table."""


class InvalidCost(ValueError):
    """A provider answered a cost that cannot be recorded (a bug in its adapter)."""


def recorded_cost(cost: ActualCost | None) -> dict[str, Any] | None:
    """The cost as the job records it: {usd, source, tasks, shots, seconds}; None for none."""
    if cost is None:
        return None
    if not isinstance(cost, ActualCost):
        raise InvalidCost(f"a cost must be an ActualCost, not {type(cost).__name__}")
    if cost.source not in COST_SOURCES:
        raise InvalidCost(f"cost.source must be one of {COST_SOURCES}, not {cost.source!r}")
    return {
        "usd": _amount("usd", cost.usd),
        "source": cost.source,
        "tasks": _count("tasks", cost.tasks),
        "shots": _count("shots", cost.shots),
        "seconds": None if cost.seconds is None else _amount("seconds", cost.seconds),
    }


def _amount(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCost(f"cost.{name} must be a number, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise InvalidCost(f"cost.{name} must be finite and at least 0, not {value!r}")
    return float(value)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCost(f"cost.{name} must be an integer, not {type(value).__name__}")
    if not 0 <= value < 2**62:
        raise InvalidCost(f"cost.{name} must be between 0 and 2^62, not {value!r}")
    return value
