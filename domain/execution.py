"""The work a provider is asked to do, and what it gives back, as plain picklable data.

Providers always answer in the *full* nesting (every circuit has a parameter-set level, with one
set when none were given, and expectation values always have an observable level); the nesting
rule that drops levels the client did not ask for lives in `qorch.domain.results`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RunType = Literal["Run", "StatevectorRun"]


@dataclass(frozen=True)
class ObservableSpec:
    """A Hermitian observable as a sum of Pauli strings (Qiskit order: rightmost = qubit 0)."""

    paulis: tuple[str, ...]
    coefficients: tuple[float, ...]


@dataclass(frozen=True)
class CircuitTask:
    """One circuit's share of a job."""

    source: str
    """OpenQASM 2.0 or 3.0 text, as stored."""
    parameter_sets: tuple[tuple[float, ...], ...] | None = None
    """Values bound in `circuit.parameters` order (sorted by name); None when not parameterised."""
    observables: tuple[ObservableSpec, ...] | None = None


@dataclass(frozen=True)
class ExecutionTask:
    job_id: str
    device_id: str
    run_type: RunType
    shots: int
    circuits: tuple[CircuitTask, ...]
    options: dict[str, Any] = field(default_factory=dict)
    use_mitigation: bool = False


@dataclass
class CircuitOutcome:
    """Results for one circuit, always in full nesting (index by parameter set last)."""

    distributions: list[dict[str, float]] | None = None
    """Run without observables: probability dict per parameter set, Qiskit bit order."""
    counts: list[dict[str, int]] | None = None
    """Run without observables: integer counts per parameter set (each sums to shots)."""
    expectation_values: list[list[float]] | None = None
    """With observables: [observable][parameter_set]."""
    standard_errors: list[list[float]] | None = None
    """With observables: [observable][parameter_set]; 0.0 when exact."""
    statevectors: list[tuple[list[float], list[float]]] | None = None
    """StatevectorRun without observables: (re, im) per parameter set."""
    probabilities: list[dict[str, float]] | None = None
    """StatevectorRun without observables: exact probabilities per parameter set."""
    transpiled: dict[str, int] = field(default_factory=dict)
    """Shape of the circuit as executed: qubits, depth, gates_1q, gates_2q."""


@dataclass
class ExecutionOutcome:
    circuits: list[CircuitOutcome]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class CostEstimate:
    """A dry run's answer: how much QPU time and money the job would take."""

    seconds: float
    usd: float
    circuits: list[dict[str, int]]
    """Per circuit, the transpiled shape on the device: qubits, depth, gates_1q, gates_2q."""
    breakdown: dict[str, Any] = field(default_factory=dict)


class ProviderError(Exception):
    """A provider failed to run a task; carries the structured error recorded as Failed."""

    def __init__(
        self, code: str, message: str, *, retryable: bool = False, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in worker processes: must survive pickling with all its fields.
        return (_rebuild_provider_error, (self.code, self.message, self.retryable, self.field))

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


def _rebuild_provider_error(
    code: str, message: str, retryable: bool, field: str | None
) -> ProviderError:
    return ProviderError(code, message, retryable=retryable, field=field)
