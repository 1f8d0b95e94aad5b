"""The nesting rule, in one place: circuits → observables → parameter sets.

The circuit level always exists; the observable level exists when observables were given; the
parameter-set level exists when parameters were given. Providers answer in full nesting
(`CircuitOutcome`); this module drops the levels the client did not ask for.
"""

from __future__ import annotations

from typing import Any

from qorch.domain.execution import CircuitOutcome, ExecutionOutcome


def nest_results(
    outcome: ExecutionOutcome, *, with_parameters: bool, with_observables: bool
) -> dict[str, Any]:
    """Builds the recorded results of a job from a provider's outcome."""

    def per_set(values: list[Any]) -> Any:
        return values if with_parameters else values[0]

    def per_observable(rows: list[list[float]]) -> list[Any]:
        return [per_set(row) for row in rows]

    results: dict[str, Any] = {}
    circuits = outcome.circuits
    if with_observables:
        results["quantum_results"] = [per_observable(_evs(c)) for c in circuits]
        results["uncertainty"] = [per_observable(_stds(c)) for c in circuits]
    elif all(c.statevectors is not None for c in circuits):
        results["quantum_results"] = [
            per_set([[re, im] for re, im in c.statevectors or []]) for c in circuits
        ]
        results["probabilities"] = [per_set(c.probabilities or []) for c in circuits]
    else:
        results["quantum_results"] = [per_set(_distributions(c)) for c in circuits]
        results["counts"] = [per_set(c.counts or []) for c in circuits]
        results["uncertainty"] = [
            per_set([_binomial_errors(d, total) for d, total in _with_totals(c)]) for c in circuits
        ]
    results["transpiled"] = [c.transpiled for c in circuits]
    results["metadata"] = outcome.metadata
    return results


def _evs(circuit: CircuitOutcome) -> list[list[float]]:
    if circuit.expectation_values is None:
        raise ValueError("provider returned no expectation values for a job with observables")
    return circuit.expectation_values


def _stds(circuit: CircuitOutcome) -> list[list[float]]:
    if circuit.standard_errors is not None:
        return circuit.standard_errors
    return [[0.0 for _ in row] for row in _evs(circuit)]


def _distributions(circuit: CircuitOutcome) -> list[dict[str, float]]:
    if circuit.distributions is None:
        raise ValueError("provider returned no distributions for a job without observables")
    return circuit.distributions


def _with_totals(circuit: CircuitOutcome) -> list[tuple[dict[str, float], int]]:
    counts = circuit.counts or [{} for _ in _distributions(circuit)]
    return [(d, sum(c.values())) for d, c in zip(_distributions(circuit), counts, strict=True)]


def _binomial_errors(distribution: dict[str, float], shots: int) -> dict[str, float]:
    """Standard error of each estimated probability: sqrt(p(1-p)/shots)."""
    if shots <= 0:
        return {key: 0.0 for key in distribution}
    return {key: (p * (1.0 - p) / shots) ** 0.5 for key, p in distribution.items()}
