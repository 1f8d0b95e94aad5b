"""What a finished task cost at IBM Quantum: the QPU time IBM bills for each of its jobs (the
job's metrics, `usage.qpu_charge_time_seconds`, which `RuntimeJobV2.usage()` reads) x the price
table's per-second price. IBM computes usage after a job ends; until it has, the cost is unknown.
"""

from __future__ import annotations

import math
from typing import Any

from qorch.adapters.providers.ibm.catalogue import PRICE_KEY
from qorch.adapters.providers.pipeline.prices import load_prices
from qorch.domain.execution import ActualCost


def billed_seconds(runtime_job: Any) -> float | None:
    """A done job's billed QPU seconds; None while IBM has not computed them."""
    try:
        usage = (runtime_job.metrics() or {}).get("usage") or {}
    except Exception:
        return None  # the results are in: an unknown usage only leaves the cost unknown
    if usage.get("status", "pending") == "pending":
        return None
    seconds = usage.get("qpu_charge_time_seconds", usage.get("quantum_seconds"))
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    return float(seconds) if math.isfinite(seconds) and seconds >= 0 else None


def actual_cost(usage: dict[str, float | None], shots: int) -> ActualCost | None:
    """The cost of a task's IBM jobs from their billed seconds (None if any is unknown)."""
    known = [seconds for seconds in usage.values() if seconds is not None]
    if not usage or len(known) != len(usage):
        return None
    seconds = sum(known)
    per_second = float(load_prices()["entries"][PRICE_KEY]["per_second"])
    return ActualCost(
        round(seconds * per_second, 6),
        "computed",
        tasks=len(usage),
        shots=shots,
        seconds=seconds,
    )
