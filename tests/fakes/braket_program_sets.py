"""Program sets at the loopback Braket fake (tests/fakes/braket_api.py): the device action that
declares them, what CreateQuantumTask refuses, running one in the Braket default simulator (which
runs program sets itself), failing some executables on request, and leaving the result in S3 as
a results.json that points at further objects (or inline), both of which the SDK reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

ACTION = "braket.ir.openqasm.program_set"


def action_properties(limits: tuple[int, int]) -> dict[str, Any]:
    executables, total_shots = limits
    return {
        "actionType": ACTION,
        "version": ["1"],
        "maximumExecutables": executables,
        "maximumTotalShots": total_shots,
    }


def problem(
    action: dict[str, Any],
    shots: int,
    limits: tuple[int, int] | None,
    gates_problem: Callable[[str], str | None],
) -> str | None:
    """What Braket's validation would refuse in a program set (None: nothing)."""
    if limits is None:
        return f"the device does not support {ACTION}"
    programs = action.get("programs") or []
    if not programs:
        return "a program set needs at least one program"
    count = 0
    for program in programs:
        lengths = {
            len(v) if isinstance(v, list) else -1 for v in (program.get("inputs") or {}).values()
        }
        if -1 in lengths or len(lengths) > 1:
            return "program set inputs must be lists of one length"
        count += lengths.pop() if lengths else 1
        problem = gates_problem(program.get("source", ""))
        if problem:
            return problem
    executables, total_shots = limits
    if count > executables:
        return f"{count} executables, the device allows {executables} in a program set"
    if shots % count:
        return f"shots ({shots}) must be a multiple of the executables ({count})"
    if shots > total_shots:
        return f"{shots} shots, the device allows {total_shots} in a program set"
    return None


def fail_executables(result: Any, shots: int, failing: Sequence[int], reason: str) -> None:
    """Executables at the `failing` positions (in order over every program) of a program set's
    ProgramSetTaskResult replaced by failures, its metadata counting them."""
    from braket.task_result import ProgramSetExecutableFailure
    from braket.task_result.program_set_executable_failure_v1 import (
        ProgramSetExecutableFailureMetadata,
    )

    metadata = result.taskMetadata
    count = sum(len(program.executableResults) for program in result.programResults)
    position, failed = 0, 0
    for program, program_metadata in zip(
        result.programResults, metadata.programMetadata, strict=True
    ):
        executables = list(program.executableResults)
        notes = list(program_metadata.executables)
        for index, executable in enumerate(executables):
            if position in failing:
                why = ProgramSetExecutableFailureMetadata(
                    failureReason=reason, retryable=False, category="DEVICE"
                )
                executables[index] = ProgramSetExecutableFailure(
                    inputsIndex=executable.inputsIndex, failureMetadata=why
                )
                notes[index] = why
                failed += 1
            position += 1
        program.executableResults = executables
        program_metadata.executables = notes
    metadata.totalFailedExecutables = failed
    metadata.successfulShots = shots - failed * (shots // max(count, 1))


def stored(result: Any, bucket: str, directory: str, inline: bool) -> dict[tuple[str, str], bytes]:
    """The S3 objects a program set's result leaves in its task's output folder."""
    from braket.task_result import ProgramResult, ProgramSetTaskResult

    if inline:
        return {(bucket, f"{directory}/results.json"): result.json().encode()}
    objects: dict[tuple[str, str], bytes] = {}

    def put(key: str, document: Any) -> str:
        objects[(bucket, f"{directory}/{key}")] = (
            document.json() if hasattr(document, "json") else json.dumps(document)
        ).encode()
        return key

    programs = []
    for number, program in enumerate(result.programResults):
        base = f"programs/{number}"
        executables = [
            put(f"{base}/executables/{index}.json", executable).removeprefix(f"{base}/")
            for index, executable in enumerate(program.executableResults)
        ]
        source = put(f"{base}/program.json", program.source).removeprefix(f"{base}/")
        pointer = ProgramResult(
            executableResults=executables,
            source=source,
            additionalMetadata=program.additionalMetadata,
        )
        programs.append(put(f"{base}/results.json", pointer))
    top = ProgramSetTaskResult(
        programResults=programs,
        taskMetadata=put("task-metadata.json", result.taskMetadata),
        s3Location=(bucket, directory),
    )
    put("results.json", top)
    return objects


def successful_shots(result: Any) -> int:
    return int(result.taskMetadata.successfulShots)


def executable_count(action_json: str) -> tuple[int, int]:
    """(programs, executables) of a program-set action."""
    programs = json.loads(action_json).get("programs") or []
    count = 0
    for program in programs:
        values = list((program.get("inputs") or {}).values())
        count += len(values[0]) if values else 1
    return len(programs), count
