"""IonQ's answers as qorch results, in Qiskit's conventions.

IonQ returns probabilities keyed by the measured integer (qubit 0 least significant). The ideal
simulator's are exact: counts are drawn from them (multinomial, seeded by option `sampler_seed`
or by the IonQ job id of the execution, so polling again gives the same counts). QPUs and noise
models return measured frequencies: counts are p x shots rounded with largest remainders (each
sums to shots). An execution that failed at IonQ leaves its parameter set a placeholder and an
error (`CircuitOutcome.errors`); the others keep their results.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Ran:
    """An execution IonQ ran: the id of its IonQ (child) job and its probabilities."""

    job_id: str
    probabilities: dict[str, float]


@dataclass(frozen=True)
class Failed:
    """An execution IonQ did not run, with IonQ's reason."""

    job_id: str
    error: ProviderError

    def as_error(self) -> dict[str, Any]:
        found: dict[str, Any] = {"code": self.error.code, "message": self.error.message}
        if self.error.provider_code is not None:
            found["provider_code"] = self.error.provider_code
        return found


Answer = Ran | Failed


def outcome(
    task: ExecutionTask,
    spec: Spec,
    job: ProviderJob,
    jobs: dict[str, dict[str, Any]],
    answers: list[Answer],
) -> ExecutionOutcome:
    """`answers` per execution, in submission order (circuit, parameter set, group); `jobs`:
    IonQ's answer for each job of `job.ids`."""
    data = job.data
    shots = int(data.get("shots") or task.shots)
    sampled = spec.simulator and data.get("noise_model", "ideal") == "ideal"
    seed = data.get("sampler_seed")
    layout: list[list[int]] = data["layout"]
    clbits: list[list[list[int | None]]] = data["clbits"]
    outcomes = []
    position = 0
    for c, (sets, groups) in enumerate(layout):
        counts_by_set: list[list[dict[str, int]] | None] = []
        distributions: list[dict[str, float]] = []
        errors: list[dict[str, Any] | None] = []
        for _ in range(sets):
            per_group: list[dict[str, int]] = []
            error: dict[str, Any] | None = None
            distribution: dict[str, float] = {}
            for g in range(groups):
                answer = answers[position]
                if isinstance(answer, Failed):
                    error = error or answer.as_error()
                else:
                    distribution = _distribution(answer.probabilities, clbits[c][g])
                    if sampled:
                        rng_seed = [seed, position] if seed is not None else [_seed(answer.job_id)]
                        per_group.append(_sample(distribution, shots, rng_seed))
                    else:
                        per_group.append(_round(distribution, shots))
                position += 1
            errors.append(error)
            counts_by_set.append(None if error else per_group)
            distributions.append({} if error or groups != 1 else distribution)
        result = _circuit_outcome(task, c, data["shapes"][c], counts_by_set, distributions)
        if any(errors):
            result.errors = errors
        outcomes.append(result)
    durations = [a.get("execution_duration_ms") for a in jobs.values()]
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
    counts_by_set: list[list[dict[str, int]] | None],
    distributions: list[dict[str, float]],
) -> CircuitOutcome:
    """Counts per set (None: the set failed, placeholders take its place)."""
    from qorch.adapters.providers.pipeline.observables import (
        expectation_values,
        measurement_circuits,
    )

    result = CircuitOutcome(transpiled=dict(shape))
    circuit_task = task.circuits[index]
    if not circuit_task.observables:
        result.counts = [per_group[0] if per_group else {} for per_group in counts_by_set]
        result.distributions = distributions
        return result
    circuit = load_circuit(circuit_task.source, f"circuits[{index}]")
    plan = measurement_circuits(circuit, circuit_task.observables)
    count = len(circuit_task.observables)
    failed = ([math.nan] * count, [math.nan] * count)
    rows = [expectation_values(plan, g) if g else failed for g in counts_by_set]
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
