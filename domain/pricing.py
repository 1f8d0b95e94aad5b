"""Prices a job on a QPU from its transpiled shape and a versioned price table (pure; no I/O).

The table (adapters/data/prices.json) names a price model per entry:
- per_task_per_shot (Amazon Braket QPUs): per_task x tasks + per_shot x shots x executions, where
  tasks = executions unless the provider packs executions into fewer tasks (Braket program sets)
- per_qpu_second (IBM pay-as-you-go): per_second x estimated QPU seconds
- per_gate_shot (IonQ): per provider job, max(minimum, shots x sum of (g1 x p1 + g2 x p2) over
  its executions); an execution without a `job` is a job of its own
- per_minute (Braket managed simulators): per_minute x max(minimum_seconds, seconds) / 60
QPU seconds per execution: task_overhead + shots x (shot_overhead + circuit time), where the
circuit time is the device's own duration estimate when the adapter has one, else
gates_1q x gate_1q_seconds + gates_2q x gate_2q_seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qorch.domain.execution import CostEstimate


@dataclass(frozen=True)
class CircuitCost:
    shape: dict[str, int]
    """The circuit transpiled for the device: qubits, depth, gates_1q, gates_2q."""
    executions: int = 1
    """How many times the provider runs it (parameter sets x measurement groups = tasks)."""
    duration_seconds: float | None = None
    """One shot's circuit duration from the device's own timing data, when known."""
    job: int | None = None
    """The provider job its executions run in, for a per-job minimum (IonQ's multi-circuit
    jobs); None: each execution is a job of its own."""


class PriceTableError(LookupError):
    pass


def estimate_cost(
    prices: Mapping[str, Any],
    price_key: str,
    shots: int,
    circuits: Sequence[CircuitCost],
    *,
    mitigated: bool = False,
    tasks: int | None = None,
) -> CostEstimate:
    """`tasks`: the provider tasks the executions are packed into (None: one per execution); a
    task's fee and overhead are paid once per task."""
    entry = _entry(prices, price_key)
    model = entry["model"]
    per_circuit = [_seconds(entry["time"], shots, circuit) for circuit in circuits]
    seconds = sum(per_circuit)
    executions = sum(circuit.executions for circuit in circuits)
    if tasks is not None:
        seconds -= (executions - tasks) * entry["time"]["task_overhead_seconds"]
    if model == "per_task_per_shot":
        fees = executions if tasks is None else tasks
        usd = fees * entry["per_task"] + executions * shots * entry["per_shot"]
    elif model == "per_qpu_second":
        usd = seconds * entry["per_second"]
    elif model == "per_gate_shot":
        minimum = entry["minimum_with_mitigation"] if mitigated else entry["minimum"]
        usd = 0.0
        jobs: dict[int, float] = {}
        for circuit in circuits:
            price = shots * _gate_shot_price(entry, circuit.shape)
            if circuit.job is None:
                usd += circuit.executions * max(minimum, price)
            else:
                jobs[circuit.job] = jobs.get(circuit.job, 0.0) + circuit.executions * price
        usd += sum(max(minimum, price) for price in jobs.values())
    elif model == "per_minute":
        usd = sum(max(entry["minimum_seconds"], s) for s in per_circuit) * entry["per_minute"] / 60
    else:
        raise PriceTableError(f"price entry {price_key!r} has an unknown model {model!r}")
    return CostEstimate(
        seconds=seconds,
        usd=round(usd, 6),
        circuits=[dict(circuit.shape) for circuit in circuits],
        breakdown={
            "price_table_version": prices["version"],
            "price_key": price_key,
            "model": model,
            "prices": {k: v for k, v in entry.items() if k != "time"},
            "shots": shots,
            "executions": [circuit.executions for circuit in circuits],
            "per_circuit_seconds": per_circuit,
            "mitigated": mitigated,
        },
    )


def usage_cost(
    prices: Mapping[str, Any],
    price_key: str,
    *,
    tasks: int,
    shots: int,
    task_seconds: Sequence[float] = (),
) -> float:
    """What measured usage costs by the table (an actual cost, not an estimate): per_task_per_shot
    `tasks` billed tasks and `shots` executed shots; per_minute each billed task's duration."""
    entry = _entry(prices, price_key)
    model = entry["model"]
    if model == "per_task_per_shot":
        usd = tasks * entry["per_task"] + shots * entry["per_shot"]
    elif model == "per_minute":
        usd = sum(max(entry["minimum_seconds"], s) for s in task_seconds) * entry["per_minute"] / 60
    else:
        raise PriceTableError(f"price entry {price_key!r}: no usage cost for model {model!r}")
    return round(usd, 6)


def _entry(prices: Mapping[str, Any], price_key: str) -> Mapping[str, Any]:
    try:
        entry: Mapping[str, Any] = prices["entries"][price_key]
    except KeyError:
        raise PriceTableError(
            f"no price entry {price_key!r} in table {prices.get('version')}"
        ) from None
    return entry


def _seconds(time: Mapping[str, float], shots: int, circuit: CircuitCost) -> float:
    if circuit.duration_seconds is not None:
        per_shot = circuit.duration_seconds
    else:
        per_shot = (
            circuit.shape.get("gates_1q", 0) * time["gate_1q_seconds"]
            + circuit.shape.get("gates_2q", 0) * time["gate_2q_seconds"]
        )
    one = time["task_overhead_seconds"] + shots * (time["shot_overhead_seconds"] + per_shot)
    return circuit.executions * one


def _gate_shot_price(entry: Mapping[str, Any], shape: Mapping[str, int]) -> float:
    return float(
        shape.get("gates_1q", 0) * entry["per_1q_gate_shot"]
        + shape.get("gates_2q", 0) * entry["per_2q_gate_shot"]
    )
