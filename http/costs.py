"""A job's cost in words, beside its status in the agents' summaries: what the run cost and
what qorch estimated (the fields `actual_cost` and `estimated_usd`, projections/usage.py)."""

from __future__ import annotations

from typing import Any

from qorch.domain.errors import usd

SOURCES = {
    "reported": "as the provider reported it",
    "computed": "the provider's usage priced with qorch's price table",
}


def cost_context(job: dict[str, Any]) -> str:
    """For a run that recorded a cost, e.g. ' It cost $3.21 (as the provider reported it;
    qorch estimated $24.83).'; empty otherwise."""
    cost = job.get("actual_cost")
    if not isinstance(cost, dict):
        return ""
    how = SOURCES.get(cost.get("source", ""), "")
    estimated = job.get("estimated_usd")
    if isinstance(estimated, int | float):
        how += f"; qorch estimated {usd(estimated)}"
    return f" It cost {usd(cost['usd'])} ({how})."
