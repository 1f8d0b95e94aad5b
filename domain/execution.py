"""The work a provider is asked to do, and what it gives back, as plain picklable data.

Providers always answer in the *full* nesting (every circuit has a parameter-set level, with one
set when none were given, and expectation values always have an observable level); the nesting
rule that drops levels the client did not ask for lives in `qorch.domain.results`.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
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
    client_token: str = ""
    """Idempotency token for the provider: the job id, suffixed with the run number after a
    restart (`<job id>-r2`). A retried create with the same token never makes a second task."""


@dataclass(frozen=True)
class ProviderJob:
    """A job's handle at a remote provider, recorded as soon as it exists: after a restart the
    job is re-attached to it and polled, never submitted again."""

    provider: str
    ids: tuple[str, ...]
    """Provider task/job ids, in submission order."""
    data: dict[str, Any] = field(default_factory=dict)
    """JSON-safe facts that polling needs to map provider results back (no secrets)."""

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "ids": list(self.ids), "data": self.data}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> ProviderJob:
        return cls(value["provider"], tuple(value["ids"]), dict(value.get("data") or {}))


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
    errors: list[dict[str, Any] | None] | None = None
    """Per parameter set: None where it ran, {"code", "message"} where the provider's work for
    it failed (its values are then placeholders: {} for distributions and counts, nan for
    expectation values and standard errors). None: every set ran."""


@dataclass(frozen=True)
class ActualCost:
    """What a job on a paid device cost once it ended."""

    usd: float
    source: Literal["reported", "computed"]
    """reported: the provider's own figure; computed: its usage x qorch's price table."""
    tasks: int = 0
    """Provider tasks/jobs created (Braket tasks, IonQ jobs, IBM primitive jobs)."""
    shots: int = 0
    """Shots executed, over every task."""
    seconds: float | None = None
    """QPU seconds billed, where the provider reports usage in time (IBM)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "usd": self.usd,
            "source": self.source,
            "tasks": self.tasks,
            "shots": self.shots,
            "seconds": self.seconds,
        }


@dataclass
class ExecutionOutcome:
    circuits: list[CircuitOutcome]
    metadata: dict[str, Any] = field(default_factory=dict)
    cost: ActualCost | None = None
    """Set by providers of paid devices; None on free simulators."""


@dataclass
class CostEstimate:
    """A dry run's answer: how much QPU time and money the job would take."""

    seconds: float
    usd: float
    circuits: list[dict[str, int]]
    """Per circuit, the transpiled shape on the device: qubits, depth, gates_1q, gates_2q."""
    breakdown: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False, repr=False)  # compared and shown as the exception it is
class ProviderError(Exception):
    """A provider failed to run a task; carries the structured error recorded as Failed.

    `code` is ours (invalid_credentials, rate_limited, provider_unavailable, provider_timeout,
    provider_rejected, provider_failed, ...); `provider_code` is the provider's own (an HTTP
    status, an AWS error code, an IBM error code). `retry_after` (seconds) comes from a
    Retry-After header or the like; retryable errors are retried with backoff before failing.
    """

    code: str
    message: str
    _: KW_ONLY
    retryable: bool = False
    field: str | None = None
    provider_code: str | None = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in worker processes: must survive pickling with all its fields.
        return (
            _rebuild_provider_error,
            (
                self.code,
                self.message,
                self.retryable,
                self.field,
                self.provider_code,
                self.retry_after,
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.provider_code is not None:
            error["provider_code"] = self.provider_code
        return error


def _rebuild_provider_error(
    code: str,
    message: str,
    retryable: bool,
    field: str | None,
    provider_code: str | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    return ProviderError(
        code,
        message,
        retryable=retryable,
        field=field,
        provider_code=provider_code,
        retry_after=retry_after,
    )
