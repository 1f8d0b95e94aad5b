"""Polling a job's Braket tasks (GetQuantumTask each, with the session's Braket client), and once
every one has ended, their results (results.json from S3 with its S3 client, parsed as
`AwsQuantumTask.result()` does) mapped back to the job's nesting.

A task that failed or was cancelled does not throw the others away: its executions' parameter
sets are marked failed in the outcome (`CircuitOutcome.errors`). A program-set task may also end
with some executables failed, or FAILED with a result for the others. Only when nothing at all
ran is the job's error raised, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from qorch.adapters.providers.braket.catalogue import PROVIDER, Spec
from qorch.adapters.providers.braket.client import in_parallel, job_region
from qorch.adapters.providers.braket.cost import Usage, actual_cost
from qorch.adapters.providers.braket.errors import aws_errors, scrubbed
from qorch.adapters.providers.braket.packing import Slice, from_data
from qorch.adapters.providers.braket.programs import load_task
from qorch.adapters.providers.braket.results import (
    Execution,
    Key,
    Measured,
    assemble,
    one_task_each,
    recorded_layouts,
    succeeded,
    task_result,
)
from qorch.adapters.providers.braket.session import session
from qorch.adapters.providers.braket.set_results import executions, resolved, successful_shots
from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.execution import ExecutionOutcome, ExecutionTask, ProviderError, ProviderJob

_FAILURE_CODE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.]*)\s*:")
_ENDED = ("COMPLETED", "FAILED", "CANCELLED", "CANCELLING")


@dataclass
class _Ended:
    """What one ended task gave: its executions' results or its error, and its usage."""

    found: dict[Key, Execution] = field(default_factory=dict)
    error: ProviderError | None = None
    usage: Usage = field(default_factory=lambda: Usage(0))


def poll(
    task: ExecutionTask,
    spec: Spec,
    job: ProviderJob,
    credentials: dict[str, str],
    config: ProviderConfig,
) -> ExecutionOutcome | None:
    aws = session(credentials, config, job_region(job, spec, credentials), job.data.get("bucket"))
    braket_client = aws.braket_client

    def state(arn: str) -> dict[str, Any]:
        with aws_errors("GetQuantumTask", credentials):
            answer: dict[str, Any] = braket_client.get_quantum_task(quantumTaskArn=arn)
        return answer

    states = in_parallel(state, list(job.ids))
    if any(metadata.get("status") not in _ENDED for metadata in states):
        return None
    plans = (
        [c.plan for c in load_task(task, spec)] if any(c.observables for c in task.circuits) else []
    )
    layouts = recorded_layouts(job, plans)
    sets = job.data.get("program_sets")
    pieces: list[list[Slice]] | list[Key] = (
        from_data(sets) if sets is not None else one_task_each(layouts)
    )
    if len(pieces) != len(job.ids):
        raise ProviderError(
            "provider_failed",
            f"the job recorded {len(job.ids)} Braket tasks, expected {len(pieces)}",
        )
    with aws_errors("S3 client", credentials):
        s3 = aws.s3_client  # made here, once: creating clients is not thread-safe

    def read(bucket: str, key: str) -> str:
        with aws_errors("GetObject results", credentials):
            body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body.decode()

    def ended(item: tuple[str, dict[str, Any], Any]) -> _Ended:
        arn, metadata, piece = item
        error = _ended_badly(arn, metadata, credentials)
        is_set = sets is not None
        if error is not None and not (is_set and metadata.get("status") == "FAILED"):
            return _failed(error, piece, is_set, metadata)
        try:
            text = read(metadata["outputS3Bucket"], f"{metadata['outputS3Directory']}/results.json")
        except ProviderError as missing:
            if error is not None and missing.provider_code in ("NoSuchKey", "404"):
                return _failed(error, piece, is_set, metadata)
            raise
        result = task_result(text)
        if is_set:
            whole = resolved(result, read)
            found = executions(whole, piece)
            if error is not None:  # FAILED, with a result for some executables
                reason = {"code": error.code, "message": error.message}
                for key in _keys(piece, is_set):
                    found.setdefault(key, dict(reason))
            return _Ended(found, usage=Usage(_shots(metadata, successful_shots(whole))))
        return _Ended({piece: Measured.of_task(result)}, usage=_single_usage(metadata, result))

    finished = in_parallel(ended, list(zip(job.ids, states, pieces, strict=True)))
    found: dict[Key, Execution] = {}
    for item in finished:
        found.update(item.found)
    for outcome in found.values():
        if not isinstance(outcome, Measured):  # recorded with the job: never a credential
            outcome["message"] = scrubbed(outcome["message"], credentials)
    failures = [item.error for item in finished if item.error is not None]
    if len(failures) == len(finished):
        raise failures[0]  # nothing ran: the job fails as it always did
    circuits = assemble(layouts, found)
    if not succeeded(circuits):
        first = next(e for c in circuits for e in c.errors or [] if e is not None)
        raise ProviderError("provider_failed", str(first["message"]))
    return ExecutionOutcome(
        circuits=circuits,
        metadata={
            "device": spec.id,
            "provider": PROVIDER,
            "device_arn": job.data.get("device_arn"),
            "shots": job.data.get("shots", task.shots),
            "mitigation": "IonQ debiasing" if job.data.get("mitigation") == "debias" else "none",
            "provider_job_ids": list(job.ids),
            "braket_tasks": len(job.ids),
            "program_sets": sets is not None,
            "failed_tasks": sum(m.get("status") != "COMPLETED" for m in states),
        },
        cost=actual_cost(spec, [item.usage for item in finished]),
    )


def _keys(piece: Any, is_set: bool) -> list[Key]:
    if not is_set:
        return [piece]
    return [(c, g, index) for c, g, first, end in piece for index in range(first, end)]


def _failed(error: ProviderError, piece: Any, is_set: bool, metadata: dict[str, Any]) -> _Ended:
    reason = {"code": error.code, "message": error.message}
    found: dict[Key, Execution] = {key: dict(reason) for key in _keys(piece, is_set)}
    return _Ended(found, error, Usage(_shots(metadata, None)))


def _shots(metadata: dict[str, Any], reported: int | None) -> int:
    """Shots a task executed: Braket's numSuccessfulShots, else the result's, else all of them
    when it completed and none when it did not."""
    value = metadata.get("numSuccessfulShots")
    if value is not None:
        return int(value)
    if reported is not None:
        return reported
    return int(metadata.get("shots") or 0) if metadata.get("status") == "COMPLETED" else 0


def _single_usage(metadata: dict[str, Any], result: Any) -> Usage:
    duration = None
    simulator = getattr(getattr(result, "additional_metadata", None), "simulatorMetadata", None)
    if simulator is not None and simulator.executionDuration is not None:
        duration = simulator.executionDuration / 1000
    return Usage(_shots(metadata, None), duration)


def _ended_badly(
    arn: str, metadata: dict[str, Any], secrets: dict[str, str]
) -> ProviderError | None:
    status = metadata.get("status")
    if status == "FAILED":
        reason = str(metadata.get("failureReason") or "")
        code = _FAILURE_CODE.match(reason)
        return ProviderError(
            "provider_failed",
            scrubbed(f"Amazon Braket task {arn} failed: {reason or 'no reason given'}", secrets),
            provider_code=code.group(1) if code else "FAILED",
        )
    if status in ("CANCELLED", "CANCELLING"):
        return ProviderError(
            "provider_cancelled", f"Amazon Braket task {arn} was cancelled", provider_code=status
        )
    return None
