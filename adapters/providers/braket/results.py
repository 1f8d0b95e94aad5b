"""Braket results back to qorch's outcomes: each execution's counts (a task's, or one executable's
of a program set) from Braket's bit order to Qiskit's, counts per parameter set, expectation
values from the measurement groups' counts. A parameter set any of whose executions failed is
marked in `CircuitOutcome.errors`, with placeholders ({} or nan) for its values."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qorch.adapters.providers.braket.programs import LoadedCircuit, Program
from qorch.domain.execution import CircuitOutcome, ProviderError, ProviderJob

if TYPE_CHECKING:
    from braket.tasks import GateModelQuantumTaskResult

    from qorch.adapters.providers.pipeline.observables import MeasurementPlan

Key = tuple[int, int, int]
"""An execution: (circuit, measurement group, parameter set)."""
ExecutionError = dict[str, str]
"""{"code", "message"}: why an execution has no result."""


@dataclass(frozen=True)
class Measured:
    """One execution's shots, in Braket's order (character i of a key is measured_qubits[i])."""

    counts: Mapping[str, int]
    measured_qubits: Sequence[int]
    probabilities: Mapping[str, float] | None = None
    """The device's own probabilities (IonQ debiasing): kept, not rounded counts."""

    @classmethod
    def of_task(cls, result: GateModelQuantumTaskResult) -> Measured:
        copied = getattr(result, "measurement_probabilities_copied_from_device", False)
        return cls(
            counts={key: int(value) for key, value in result.measurement_counts.items()},
            measured_qubits=list(result.measured_qubits),
            probabilities=dict(result.measurement_probabilities) if copied else None,
        )


Execution = Measured | ExecutionError


@dataclass(frozen=True)
class Layout:
    """How one circuit's executions come back: sets x groups of them."""

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
    def executions(self) -> int:
        return self.sets * len(self.clbits)


def one_task_each(layouts: Sequence[Layout]) -> list[Key]:
    """The execution of each task when every execution is a task, in submission order."""
    return [
        (circuit, group, index)
        for circuit, layout in enumerate(layouts)
        for index in range(layout.sets)
        for group in range(len(layout.clbits))
    ]


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


def assemble(
    layouts: Sequence[Layout], executions: Mapping[Key, Execution]
) -> list[CircuitOutcome]:
    """Every circuit's outcome from its executions' (an execution not in the map is failed)."""
    return [_outcome(number, layout, executions) for number, layout in enumerate(layouts)]


_MISSING: ExecutionError = {"code": "provider_failed", "message": "Amazon Braket gave no result"}


def _outcome(number: int, layout: Layout, executions: Mapping[Key, Execution]) -> CircuitOutcome:
    from qorch.adapters.providers.pipeline.observables import expectation_values

    outcome = CircuitOutcome(transpiled=layout.shape)
    counts_per_set: list[dict[str, int]] = []
    distributions: list[dict[str, float]] = []
    values_per_set: list[list[float]] = []
    errors_per_set: list[list[float]] = []
    failures: list[dict[str, Any] | None] = []
    for index in range(layout.sets):
        found = [
            executions.get((number, group, index), _MISSING) for group in range(len(layout.clbits))
        ]
        failed = next((item for item in found if not isinstance(item, Measured)), None)
        failures.append(None if failed is None else dict(failed))
        if failed is not None:
            if layout.plan is None:
                counts_per_set.append({})
                distributions.append({})
            else:
                values_per_set.append([math.nan] * len(layout.plan.observables))
                errors_per_set.append([math.nan] * len(layout.plan.observables))
            continue
        measured = [item for item in found if isinstance(item, Measured)]
        group_counts = [
            _qiskit_counts(item, clbits)
            for item, clbits in zip(measured, layout.clbits, strict=True)
        ]
        if layout.plan is None:
            counts_per_set.append(group_counts[0])
            distributions.append(_distribution(measured[0], group_counts[0], layout.clbits[0]))
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
    if any(failure is not None for failure in failures):
        outcome.errors = failures
    return outcome


def _qiskit_counts(measured: Measured, clbits: Sequence[int]) -> dict[str, int]:
    converted = qiskit_counts(measured.counts, measured.measured_qubits, clbits)
    return {key: int(value) for key, value in converted.items()}


def _distribution(
    measured: Measured, counts: dict[str, int], clbits: Sequence[int]
) -> dict[str, float]:
    if measured.probabilities is not None:
        return qiskit_counts(measured.probabilities, measured.measured_qubits, clbits)
    total = sum(counts.values())
    return {key: value / total for key, value in counts.items()}


def succeeded(outcomes: Sequence[CircuitOutcome]) -> bool:
    """Whether any parameter set of any circuit has a result."""
    return any(
        outcome.errors is None or any(error is None for error in outcome.errors)
        for outcome in outcomes
    )


def task_result(text: str) -> Any:
    """A results.json: a GateModelQuantumTaskResult (one program), or the raw
    ProgramSetTaskResult of a program set (read further by `set_results`)."""
    from braket.schema_common import BraketSchemaBase
    from braket.task_result import GateModelTaskResult, ProgramSetTaskResult
    from braket.tasks import GateModelQuantumTaskResult

    try:
        parsed = BraketSchemaBase.parse_raw_schema(text)
        if isinstance(parsed, ProgramSetTaskResult):
            return parsed
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
    return [
        Layout(
            sets=int(entry["sets"]),
            clbits=[tuple(int(q) for q in bits) for bits in entry["clbits"]],
            shape={k: int(v) for k, v in entry["shape"].items()},
            plan=plans[index] if index < len(plans) else None,
        )
        for index, entry in enumerate(job.data.get("circuits") or [])
    ]


def layout_data(circuit: LoadedCircuit, programs: list[Program]) -> dict[str, Any]:
    """What `recorded_layouts` reads back from the job's data."""
    return {
        "sets": len(circuit.values),
        "clbits": [list(program.clbits) for program in programs],
        "shape": programs[0].shape,
    }
