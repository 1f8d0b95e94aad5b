"""IonQ's answers as qorch results, in Qiskit's conventions.

IonQ returns probabilities keyed by the measured integer (qubit 0 least significant). The ideal
simulator's are exact: counts are drawn from them (multinomial, seeded by option `sampler_seed`
or by the IonQ job id, so polling again gives the same counts). QPUs and noise models return
measured frequencies: counts are p x shots rounded with largest remainders (each sums to shots).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from qorch.adapters.providers.ionq.catalogue import Spec
from qorch.adapters.providers.pipeline.circuits import load_circuit
from qorch.domain.execution import (
    CircuitOutcome,
    ExecutionOutcome,
    ExecutionTask,
    ProviderError,
    ProviderJob,
)


def outcome(
    task: ExecutionTask,
    spec: Spec,
    job: ProviderJob,
    answers: dict[str, dict[str, Any]],
    probabilities: list[dict[str, float]],
) -> ExecutionOutcome:
    """`probabilities` per IonQ job, in the order of `job.ids` (circuit, parameter set, group)."""
    data = job.data
    shots = int(data.get("shots") or task.shots)
    sampled = spec.simulator and data.get("noise_model", "ideal") == "ideal"
    seed = data.get("sampler_seed")
    layout: list[list[int]] = data["layout"]
    clbits: list[list[list[int | None]]] = data["clbits"]
    outcomes = []
    position = 0
    for c, (sets, groups) in enumerate(layout):
        counts_by_set: list[list[dict[str, int]]] = []
        distributions: list[dict[str, float]] = []
        for _ in range(sets):
            per_group = []
            for g in range(groups):
                distribution = _distribution(probabilities[position], clbits[c][g])
                if sampled:
                    rng_seed = [seed, position] if seed is not None else [_seed(job.ids[position])]
                    per_group.append(_sample(distribution, shots, rng_seed))
                else:
                    per_group.append(_round(distribution, shots))
                if groups == 1:
                    distributions.append(distribution)
                position += 1
            counts_by_set.append(per_group)
        outcomes.append(_circuit_outcome(task, c, data["shapes"][c], counts_by_set, distributions))
    durations = [a.get("execution_duration_ms") for a in answers.values()]
    metadata: dict[str, Any] = {
        "device": data.get("device"),
        "ionq_backend": spec.backend,
        "shots": shots,
        "mitigation": data.get("mitigation", "none"),
        "optimization_level": data.get("optimization_level"),
        "provider_job_ids": list(job.ids),
        "counts_from": "sampled from exact probabilities (ideal simulator)"
        if sampled
        else "probabilities x shots, rounded (largest remainders)",
        "execution_seconds": sum(d for d in durations if isinstance(d, int | float)) / 1000,
    }
    if spec.simulator:
        metadata["noise_model"] = data.get("noise_model")
        if seed is not None:
            metadata["sampler_seed"] = seed
    return ExecutionOutcome(circuits=outcomes, metadata=metadata)


def _circuit_outcome(
    task: ExecutionTask,
    index: int,
    shape: dict[str, int],
    counts_by_set: list[list[dict[str, int]]],
    distributions: list[dict[str, float]],
) -> CircuitOutcome:
    from qorch.adapters.providers.pipeline.observables import (
        expectation_values,
        measurement_circuits,
    )

    result = CircuitOutcome(transpiled=dict(shape))
    circuit_task = task.circuits[index]
    if not circuit_task.observables:
        result.counts = [per_group[0] for per_group in counts_by_set]
        result.distributions = distributions
        return result
    circuit = load_circuit(circuit_task.source, f"circuits[{index}]")
    plan = measurement_circuits(circuit, circuit_task.observables)
    rows = [expectation_values(plan, per_group) for per_group in counts_by_set]
    count = len(circuit_task.observables)
    result.expectation_values = [[row[0][o] for row in rows] for o in range(count)]
    result.standard_errors = [[row[1][o] for row in rows] for o in range(count)]
    return result


def _distribution(probabilities: dict[str, float], qubit_of: list[int | None]) -> dict[str, float]:
    """IonQ's integer outcomes -> classical bitstrings, Qiskit order (clbit 0 rightmost); bits
    never measured read 0."""
    merged: dict[str, float] = {}
    for outcome_key, probability in probabilities.items():
        value = int(outcome_key)
        bits = "".join(
            "1" if qubit is not None and (value >> qubit) & 1 else "0"
            for qubit in reversed(qubit_of)
        )
        merged[bits] = merged.get(bits, 0.0) + probability
    total = sum(merged.values())
    if total <= 0:
        raise ProviderError("provider_failed", "IonQ returned an empty probability distribution")
    return {bits: p / total for bits, p in sorted(merged.items()) if p > 0}


def _round(distribution: dict[str, float], shots: int) -> dict[str, int]:
    """Largest-remainder rounding of p x shots: integers summing to exactly `shots`."""
    keys = list(distribution)
    exact = np.array([distribution[k] * shots for k in keys])
    counts = np.floor(exact).astype(int)
    short = shots - int(counts.sum())
    if short > 0:
        for index in np.argsort(-(exact - counts), kind="stable")[:short]:
            counts[index] += 1
    return {k: int(n) for k, n in zip(keys, counts, strict=True) if n}


def _sample(distribution: dict[str, float], shots: int, seed: list[int]) -> dict[str, int]:
    keys = list(distribution)
    weights = np.array([distribution[k] for k in keys])
    drawn = np.random.default_rng(seed).multinomial(shots, weights / weights.sum())
    return {k: int(n) for k, n in zip(keys, drawn, strict=True) if n}


def _seed(job_id: str) -> int:
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big")
