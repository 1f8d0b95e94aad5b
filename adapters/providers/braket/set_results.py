"""A program set's results: its results.json either holds everything or points at further S3
objects (the task metadata, a results.json per program, a file per executable, the program),
read the way the SDK's ProgramSetQuantumTaskResult reads them; then each executable's shots, or
why it failed, under the execution it ran."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from qorch.adapters.providers.braket.packing import Slice
from qorch.adapters.providers.braket.results import Execution, Key, Measured
from qorch.domain.execution import ProviderError

if TYPE_CHECKING:
    from braket.task_result import ProgramSetTaskResult

Read = Callable[[str, str], str]
"""(bucket, key) -> the object's text."""
_RESULTS = "/results.json"


def resolved(result: ProgramSetTaskResult, read: Read) -> ProgramSetTaskResult:
    """The result with every S3 reference replaced by what it points at."""
    from braket.task_result import ProgramSetTaskResult

    if not result.s3Location:
        return result
    bucket, prefix = result.s3Location
    metadata = result.taskMetadata
    if isinstance(metadata, str):
        metadata = _parsed(read(bucket, f"{prefix}/{metadata}"))
    programs = []
    for entry in result.programResults:
        if isinstance(entry, str):
            key = f"{prefix}/{entry}"
            entry = _program(_parsed(read(bucket, key)), bucket, key.removesuffix(_RESULTS), read)
        programs.append(entry)
    return ProgramSetTaskResult(programResults=programs, taskMetadata=metadata, s3Location=None)


def _program(program: Any, bucket: str, prefix: str, read: Read) -> Any:
    executables = [
        _parsed(read(bucket, f"{prefix}/{item}")) if isinstance(item, str) else item
        for item in program.executableResults
    ]
    source = program.source
    if isinstance(source, str):
        source = _parsed(read(bucket, f"{prefix}/{source}"))
    return program.copy(update={"executableResults": executables, "source": source})


def _parsed(text: str) -> Any:
    from braket.schema_common import BraketSchemaBase

    try:
        return BraketSchemaBase.parse_raw_schema(text)
    except Exception as error:
        raise ProviderError(
            "provider_failed", f"Amazon Braket returned an unreadable program-set result: {error}"
        ) from error


def executions(result: ProgramSetTaskResult, slices: Sequence[Slice]) -> dict[Key, Execution]:
    """Each executable of a resolved result under its execution: program p ran slice p, its
    executable with inputsIndex i the slice's set first + i."""
    from braket.task_result import ProgramSetExecutableFailure

    if len(result.programResults) != len(slices):
        raise ProviderError(
            "provider_failed",
            f"Amazon Braket answered {len(result.programResults)} programs for a program set of "
            f"{len(slices)}",
        )
    metadata = result.taskMetadata
    count = sum(end - first for _, _, first, end in slices)
    shots = int(getattr(metadata, "requestedShots", 0)) // max(count, 1)
    found: dict[Key, Execution] = {}
    for program, (circuit, group, first, end) in zip(result.programResults, slices, strict=True):
        for executable in program.executableResults:
            index = first + int(executable.inputsIndex)
            if not first <= index < end:
                continue
            key = (circuit, group, index)
            if isinstance(executable, ProgramSetExecutableFailure):
                reason = executable.failureMetadata.failureReason
                found[key] = {"code": "provider_failed", "message": f"Amazon Braket: {reason}"}
            else:
                found[key] = _measured(executable, shots)
    return found


def _measured(executable: Any, shots: int) -> Measured:
    qubits = list(executable.measuredQubits or [])
    if executable.measurements:
        seen = Counter("".join(str(bit) for bit in shot) for shot in executable.measurements)
        return Measured(dict(seen), qubits or list(range(len(executable.measurements[0]))))
    probabilities = dict(executable.measurementProbabilities or {})
    counts = {key: round(p * shots) for key, p in probabilities.items()}
    return Measured({k: v for k, v in counts.items() if v}, qubits, probabilities)


def successful_shots(result: ProgramSetTaskResult) -> int | None:
    metadata = result.taskMetadata
    value = getattr(metadata, "successfulShots", None)
    return None if value is None else int(value)
