"""The nesting rule, in one place: circuits → observables → parameter sets.

The circuit level always exists; the observable level exists when observables were given; the
parameter-set level exists when parameters were given. Providers answer in full nesting
(`CircuitOutcome`); this module drops the levels the client did not ask for.

Partial results: where a provider's work for one (circuit, parameter set) failed, its place in
every per-set list holds a placeholder — `{}` where the value is a dict (a distribution, its
counts and uncertainties, exact probabilities), `null` where it is a number (an expectation value
or its standard error), `[[], []]` for a statevector — and `errors`, nested exactly like
`quantum_results`, holds `{"code", "message"}` there and `null` where the work ran. `errors` is
recorded only when something failed: a job without failures records what it always did.

`record_of` makes all of it, JSON text included, where the outcome is: a worker process hands the
executor one text to record instead of millions of values to unpickle, nest and encode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json

from qorch.domain.execution import ActualCost, CircuitOutcome, ExecutionOutcome

MAX_ERROR_MESSAGE = 2000
"""Characters of a provider's message kept per failed execution."""
FAILED_STATEVECTOR: list[list[float]] = [[], []]

Failures = list[dict[str, Any] | None]
"""Per parameter set: the recorded error, or None where the set ran."""


@dataclass(frozen=True)
class OutcomeRecord:
    """What a job records of a provider's outcome: its results as JSON text, or the error when
    no execution ran (or the answer cannot be recorded); and what the run cost."""

    results_json: str | None
    error: dict[str, Any] | None = None
    cost: ActualCost | None = None
    with_parameters: bool = False
    with_observables: bool = False
    """The nesting the results were made for (the job's own: checked when recorded)."""


def record_of(
    outcome: ExecutionOutcome, *, with_parameters: bool, with_observables: bool
) -> OutcomeRecord:
    """The outcome as the job records it (`nest_results`, encoded); a job none of whose
    executions ran records the first one's error instead (`total_failure`)."""
    nesting = {"with_parameters": with_parameters, "with_observables": with_observables}
    try:
        failure = total_failure(outcome)
        if failure is not None:
            return OutcomeRecord(None, failure, outcome.cost, **nesting)
        results = to_json(nest_results(outcome, **nesting)).decode()
        return OutcomeRecord(results, None, outcome.cost, **nesting)
    except ValueError as error:
        # A provider's answer that cannot be recorded is its failure: raised instead, the job
        # would be claimed and run again, forever.
        return OutcomeRecord(None, unrecordable(error), None, **nesting)


def unrecordable(error: ValueError) -> dict[str, Any]:
    return {
        "code": "provider_failed",
        "message": f"the provider's answer could not be recorded: {str(error)[:500]}",
        "retryable": False,
    }


def nest_results(
    outcome: ExecutionOutcome, *, with_parameters: bool, with_observables: bool
) -> dict[str, Any]:
    """Builds the recorded results of a job from a provider's outcome."""

    def per_set(values: list[Any]) -> Any:
        return values if with_parameters else values[0]

    results: dict[str, Any] = {}
    circuits = outcome.circuits
    failures: list[Failures]
    if with_observables:
        failures = [_failures(c, _sets_of(_evs(c), c)) for c in circuits]
        results["quantum_results"] = [
            [per_set(_numbers(row, failed)) for row in _evs(c)]
            for c, failed in zip(circuits, failures, strict=True)
        ]
        results["uncertainty"] = [
            [per_set(_numbers(row, failed)) for row in _stds(c)]
            for c, failed in zip(circuits, failures, strict=True)
        ]
        errors = [
            [per_set(failed) for _ in _evs(c)] for c, failed in zip(circuits, failures, strict=True)
        ]
    elif all(c.statevectors is not None for c in circuits):
        failures = [_failures(c, len(c.statevectors or [])) for c in circuits]
        results["quantum_results"] = [
            per_set(_blanked([[re, im] for re, im in c.statevectors or []], failed, _statevector))
            for c, failed in zip(circuits, failures, strict=True)
        ]
        results["probabilities"] = [
            per_set(_blanked(c.probabilities or [], failed, dict))
            for c, failed in zip(circuits, failures, strict=True)
        ]
        errors = [per_set(failed) for failed in failures]
    else:
        failures = [_failures(c, len(_distributions(c))) for c in circuits]
        results["quantum_results"] = [
            per_set(_blanked(_distributions(c), failed, dict))
            for c, failed in zip(circuits, failures, strict=True)
        ]
        results["counts"] = [
            per_set(_blanked(c.counts or [], failed, dict))
            for c, failed in zip(circuits, failures, strict=True)
        ]
        results["uncertainty"] = [
            per_set(
                _blanked([_binomial_errors(d, total) for d, total in _with_totals(c)], failed, dict)
            )
            for c, failed in zip(circuits, failures, strict=True)
        ]
        errors = [per_set(failed) for failed in failures]
    if any(error is not None for failed in failures for error in failed):
        results["errors"] = errors
    results["transpiled"] = [c.transpiled for c in circuits]
    results["metadata"] = outcome.metadata
    return results


def failed_executions(
    errors: list[Any] | None, *, with_parameters: bool, with_observables: bool
) -> int:
    """How many (circuit, parameter set) executions failed, read from recorded `errors`."""
    count = 0
    for per_circuit in errors or []:
        sets = per_circuit
        if with_observables:
            if not per_circuit:
                continue
            sets = per_circuit[0]  # every observable of a set shares its execution
        count += sum(1 for error in (sets if with_parameters else [sets]) if error is not None)
    return count


def total_failure(outcome: ExecutionOutcome) -> dict[str, Any] | None:
    """The job's error when every execution failed (the first one's), else None: a job keeps
    its results while anything ran, and ends Error only when nothing did."""
    per_set = [
        error
        for circuit in outcome.circuits
        for error in (circuit.errors if circuit.errors is not None else [None])
    ]
    if not per_set or any(error is None for error in per_set):
        return None
    first = per_set[0]
    assert first is not None
    error: dict[str, Any] = {**_error(first), "retryable": bool(first.get("retryable"))}
    if len(per_set) > 1:
        error["message"] = f"all {len(per_set)} executions failed; the first: {error['message']}"
    return error


def _failures(circuit: CircuitOutcome, sets: int) -> Failures:
    if circuit.errors is None:
        return [None] * sets
    if len(circuit.errors) != sets:
        raise ValueError(
            f"provider returned {len(circuit.errors)} errors for {sets} parameter sets"
        )
    return [None if error is None else _error(error) for error in circuit.errors]


def _error(value: Any) -> dict[str, Any]:
    """A provider's error for one execution, as recorded: code, message (and provider_code)."""
    if not isinstance(value, dict) or not all(
        isinstance(value.get(key), str) for key in ("code", "message")
    ):
        raise ValueError(f"a provider's error must be {{'code': str, 'message': str}}: {value!r}")
    error = {"code": value["code"], "message": value["message"][:MAX_ERROR_MESSAGE]}
    if isinstance(value.get("provider_code"), str):
        error["provider_code"] = value["provider_code"]
    return error


def _sets_of(rows: list[list[float]], circuit: CircuitOutcome) -> int:
    return len(rows[0]) if rows else len(circuit.errors or [])


def _blanked(values: list[Any], failed: Failures, placeholder: Callable[[], Any]) -> list[Any]:
    if not values or not any(failed):
        return values
    return [placeholder() if error else value for value, error in zip(values, failed, strict=True)]


def _numbers(row: list[float], failed: Failures) -> list[float | None]:
    """A row of numbers, None where the set failed (its NaN placeholder is not valid JSON)."""
    return _blanked(row, failed, lambda: None)


def _statevector() -> list[list[float]]:
    return [list(half) for half in FAILED_STATEVECTOR]


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
