"""Runs a prepared local job: the primitive calls, mitigation when asked, and the metadata that
says how the answer was made."""

from __future__ import annotations

import math
import time
from typing import Any

from qorch.adapters.providers.local import client
from qorch.adapters.providers.local.plan import Plan
from qorch.domain.execution import (
    CircuitOutcome,
    ExecutionOutcome,
    ExecutionTask,
    ProviderError,
)


def execute(task: ExecutionTask, plan: Plan) -> ExecutionOutcome:
    outcomes = [CircuitOutcome(transpiled=c.shape) for c in plan.circuits]
    metadata: dict[str, Any] = {
        "device": plan.device.id,
        "simulator_method": plan.method,
        "noisy": plan.device.noisy and task.run_type == "Run",
        "shots": task.shots if task.run_type == "Run" else None,
        "optimization_level": plan.options.optimization_level,
        "transpile_seconds": plan.transpile_seconds,
        "mitigation": plan.mitigation.label,
    }
    if plan.options.seed_simulator is not None:
        metadata["seed_simulator"] = plan.options.seed_simulator
    estimated = [i for i, c in enumerate(plan.circuits) if c.observables is not None]
    others = [i for i, c in enumerate(plan.circuits) if c.observables is None]
    applied: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        if estimated:
            precision = 0.0 if task.run_type == "StatevectorRun" else 1 / math.sqrt(task.shots)
            metadata["precision"] = precision
            _estimate(plan, estimated, precision, outcomes, applied)
        if others and task.run_type == "Run":
            client.sample(plan, others, task.shots, outcomes)
            if plan.mitigation.active:
                from qorch.adapters.providers.local.mitigate import mitigate_readout

                applied["readout"] = mitigate_readout(plan, others, outcomes)
        elif others:
            client.statevectors(plan, others, outcomes)
    except ProviderError:
        raise
    except Exception as error:
        raise ProviderError("simulation_failed", f"{type(error).__name__}: {error}") from error
    metadata["execution_seconds"] = time.perf_counter() - started
    if applied:
        metadata["mitigation"] = applied
    return ExecutionOutcome(circuits=outcomes, metadata=metadata)


def _estimate(
    plan: Plan,
    indices: list[int],
    precision: float,
    outcomes: list[CircuitOutcome],
    applied: dict[str, Any],
) -> None:
    zne = plan.mitigation.zne
    if zne is None:
        client.estimate(plan, indices, precision, outcomes)
        return
    from qorch.adapters.providers.local.mitigate import estimate_zne

    applied["zne"] = estimate_zne(plan, zne, indices, precision, outcomes)
