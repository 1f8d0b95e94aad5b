"""Braket task results back to qorch's outcomes: Braket's bit order to Qiskit's, counts per
parameter set, expectation values from the measurement groups' counts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qorch.adapters.providers.braket.programs import LoadedCircuit, Program
from qorch.domain.execution import CircuitOutcome, ProviderError, ProviderJob

if TYPE_CHECKING:
    from braket.tasks import GateModelQuantumTaskResult

    from qorch.adapters.providers.pipeline.observables import MeasurementPlan


@dataclass(frozen=True)
class Layout:
    """How one circuit's tasks come back: sets x groups results, in that order."""

    sets: int
    clbits: list[tuple[int, ...]]
    """Per group, the measured qubit of each classical bit."""
    shape: dict[str, int]
    plan: MeasurementPlan | None

    @classmethod
    def of(cls, circuit: LoadedCircuit, programs: list[Program]) -> Layout:
        return cls(
            sets=len(circuit.values),
            clbits=[program.clbits for program in programs],
            shape=programs[0].shape,
            plan=circuit.plan,
        )

    @property
    def tasks(self) -> int:
        return self.sets * len(self.clbits)


def qiskit_counts(
    counts: Mapping[str, float], measured_qubits: Sequence[int], clbits: Sequence[int]
) -> dict[str, float]:
    """Braket outcomes (character i = measured_qubits[i]) to Qiskit keys (clbit 0 rightmost)."""
    column = {qubit: position for position, qubit in enumerate(measured_qubits)}
    picks = [column.get(qubit) if qubit >= 0 else None for qubit in reversed(clbits)]
    converted: dict[str, float] = {}
    for key, value in counts.items():
        bits = "".join("0" if pick is None else key[pick] for pick in picks)
        converted[bits] = converted.get(bits, 0) + value
    return converted


def collect(
    layouts: list[Layout], results: Iterator[GateModelQuantumTaskResult]
) -> list[CircuitOutcome]:
    """The outcome of each circuit from its tasks' results, taken in submission order."""
    return [_outcome(layout, results) for layout in layouts]


def _outcome(layout: Layout, results: Iterator[GateModelQuantumTaskResult]) -> CircuitOutcome:
    from qorch.adapters.providers.pipeline.observables import expectation_values

    outcome = CircuitOutcome(transpiled=layout.shape)
    counts_per_set: list[dict[str, int]] = []
    distributions: list[dict[str, float]] = []
    values_per_set: list[list[float]] = []
    errors_per_set: list[list[float]] = []
    for _ in range(layout.sets):
        group_counts: list[dict[str, int]] = []
        for clbits in layout.clbits:
            result = next(results)
            counts = {
                key: int(value)
                for key, value in qiskit_counts(
                    result.measurement_counts, result.measured_qubits, clbits
                ).items()
            }
            group_counts.append(counts)
            if layout.plan is None:
                distributions.append(_distribution(result, counts, clbits))
        if layout.plan is None:
            counts_per_set.append(group_counts[0])
        else:
            values, errors = expectation_values(layout.plan, group_counts)
            values_per_set.append(values)
            errors_per_set.append(errors)
    if layout.plan is None:
        outcome.counts = counts_per_set
        outcome.distributions = distributions
    else:
        outcome.expectation_values = [list(column) for column in zip(*values_per_set, strict=True)]
        outcome.standard_errors = [list(column) for column in zip(*errors_per_set, strict=True)]
    return outcome


def _distribution(
    result: GateModelQuantumTaskResult, counts: dict[str, int], clbits: Sequence[int]
) -> dict[str, float]:
    if getattr(result, "measurement_probabilities_copied_from_device", False):
        # Debiased (IonQ) results come as probabilities: keep them, not rounded counts.
        return qiskit_counts(result.measurement_probabilities, result.measured_qubits, clbits)
    total = sum(counts.values())
    return {key: value / total for key, value in counts.items()}


def task_result(text: str) -> GateModelQuantumTaskResult:
    """A results.json as the SDK's AwsQuantumTask.result() reads it."""
    from braket.schema_common import BraketSchemaBase
    from braket.task_result import GateModelTaskResult
    from braket.tasks import GateModelQuantumTaskResult

    try:
        parsed = BraketSchemaBase.parse_raw_schema(text)
        if not isinstance(parsed, GateModelTaskResult):
            raise TypeError(f"expected a gate model result, got {type(parsed).__name__}")
        GateModelQuantumTaskResult.cast_result_types(parsed)
        return GateModelQuantumTaskResult.from_object(parsed)
    except Exception as error:
        raise ProviderError(
            "provider_failed", f"Amazon Braket returned an unreadable result: {error}"
        ) from error


def recorded_layouts(job: ProviderJob, plans: list[MeasurementPlan | None]) -> list[Layout]:
    """What polling needs to map results back: bit maps and shapes from the job's data, with
    each circuit's measurement plan (pure grouping, recomputed from the task)."""
    layouts = [
        Layout(
            sets=int(entry["sets"]),
            clbits=[tuple(int(q) for q in bits) for bits in entry["clbits"]],
            shape={k: int(v) for k, v in entry["shape"].items()},
            plan=plans[index] if index < len(plans) else None,
        )
        for index, entry in enumerate(job.data.get("circuits") or [])
    ]
    expected = sum(layout.tasks for layout in layouts)
    if expected != len(job.ids):
        raise ProviderError(
            "provider_failed", f"the job recorded {len(job.ids)} Braket tasks, expected {expected}"
        )
    return layouts


def layout_data(circuit: LoadedCircuit, programs: list[Program]) -> dict[str, Any]:
    """What `recorded_layouts` reads back from the job's data."""
    return {
        "sets": len(circuit.values),
        "clbits": [list(program.clbits) for program in programs],
        "shape": programs[0].shape,
    }
