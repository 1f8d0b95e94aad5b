"""What a finished task cost at IonQ: the cost IonQ reports for each of its jobs (`GET
/jobs/{id}/cost`, `cost: {value, unit: "usd"}`), else the price table's price of what ran (the
per-job minimum once per IonQ job; IonQ charges nothing for a job that failed as a whole). The
free simulator is not asked.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

from qorch.adapters.providers.ionq.catalogue import Spec
from qorch.adapters.providers.ionq.client import IonQ
from qorch.adapters.providers.ionq.results import Answer, Ran
from qorch.adapters.providers.pipeline.prices import load_prices
from qorch.domain.execution import ActualCost, ProviderError, ProviderJob
from qorch.domain.pricing import CircuitCost, estimate_cost


def actual_cost(
    client: IonQ, spec: Spec, job: ProviderJob, answers: list[Answer], sizes: list[int]
) -> ActualCost | None:
    if spec.price_key is None:
        return None
    shots = int(job.data.get("shots") or 0)
    ran = sum(1 for answer in answers if isinstance(answer, Ran))
    reported = [reported_usd(client, job_id) for job_id in job.ids]
    if all(usd is not None for usd in reported):
        usd = sum(usd for usd in reported if usd is not None)
        return ActualCost(round(usd, 6), "reported", tasks=len(job.ids), shots=shots * ran)
    return ActualCost(
        computed_usd(spec.price_key, job, answers, sizes),
        "computed",
        tasks=len(job.ids),
        shots=shots * ran,
    )


def reported_usd(client: IonQ, job_id: str) -> float | None:
    """IonQ's charge for one job in USD; None where IonQ gives none (yet, or in credits)."""
    try:
        answer = client.get(f"jobs/{job_id}/cost", "job cost")
    except ProviderError:
        return None  # the results are in: a missing price falls back to the table
    cost = answer.get("cost") if isinstance(answer, dict) else None
    if not isinstance(cost, dict) or str(cost.get("unit", "")).lower() != "usd":
        return None
    value = cost.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def computed_usd(
    price_key: str, job: ProviderJob, answers: list[Answer], sizes: list[int]
) -> float:
    data = job.data
    layout: list[list[int]] = data["layout"]
    shapes = data.get("group_shapes") or [
        [shape] * groups for shape, (_, groups) in zip(data["shapes"], layout, strict=True)
    ]
    jobs = [k for k, size in enumerate(sizes) for _ in range(size)]
    ran = Counter(
        (jobs[position], c, g)
        for position, (c, g) in enumerate(_positions(layout))
        if isinstance(answers[position], Ran)
    )
    costs = [
        CircuitCost(shape=dict(shapes[c][g]), executions=count, job=k)
        for (k, c, g), count in ran.items()
    ]
    priced = estimate_cost(
        load_prices(),
        price_key,
        int(data.get("shots") or 0),
        costs,
        mitigated=data.get("mitigation") == "debiasing",
    )
    return priced.usd


def _positions(layout: list[list[int]]) -> Iterator[tuple[int, int]]:
    """(circuit, group) of each execution, in submission order."""
    for c, (sets, groups) in enumerate(layout):
        for _ in range(sets):
            for g in range(groups):
                yield c, g
