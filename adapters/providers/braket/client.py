"""The calls qorch makes to Amazon Braket and S3, through the real SDK, ONE attempt each.

A job's executions (circuit x measurement group x parameter set) are packed into program sets
up to the limits the device declares (`packing`), else one task per execution. Task i carries
the idempotency token `client_token(task.client_token, i)` as Braket's clientToken, so a create
tried again after a lost answer (by the executor's retry policy) never makes a second paid task.
Tasks are created with `AwsDevice(arn).run` (up to 8 at once); polling is in `polling`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from qorch.adapters.providers.braket.catalogue import PROVIDER, SPECS, Spec
from qorch.adapters.providers.braket.errors import aws_errors
from qorch.adapters.providers.braket.options import (
    DEBIAS,
    DEBIAS_MINIMUM_SHOTS,
    check_debias_shots,
    mitigation,
    parse_options,
)
from qorch.adapters.providers.braket.packing import (
    as_data,
    executables,
    limits_of,
    pack,
    program_set,
    work_of,
)
from qorch.adapters.providers.braket.programs import LoadedCircuit, Program, load_task, programs
from qorch.adapters.providers.braket.results import layout_data
from qorch.adapters.providers.braket.session import region, session
from qorch.adapters.providers.braket.tokens import TokenHook, client_token
from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.devices import Device
from qorch.domain.execution import ExecutionTask, ProviderError, ProviderJob

_T = TypeVar("_T")
_R = TypeVar("_R")
CONCURRENT_CALLS = 8
"""Braket calls a job makes at once (botocore's connection pool holds 10)."""


def in_parallel(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """`function` over `items`, answers in order; the first failure (in order) is raised after
    the others have finished (each item is tried once: concurrency, not retries). Only for
    thread-safe work: boto3 clients are, boto3 sessions (making clients) are not."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(CONCURRENT_CALLS, len(items))) as pool:
        return list(pool.map(function, items))


def submit(
    task: ExecutionTask, spec: Spec, credentials: dict[str, str], config: ProviderConfig
) -> ProviderJob:
    """One CreateQuantumTask per program set (or per execution), through `AwsDevice.run`; task i
    carries the clientToken `client_token(task.client_token, i)`."""
    from braket.aws import AwsDevice

    if spec.arn is None:
        raise ProviderError("invalid_task", f"{spec.id} is a local simulator: run it, not submit")
    options = parse_options(task.options)
    mitigated = mitigation(spec, task.run_type, task.use_mitigation)
    loaded = load_task(task, spec)
    circuit_programs = programs(loaded, spec, options, statevector=False)
    at = region(spec, credentials)
    aws = session(credentials, config, at, options.s3_bucket or config.braket_s3_bucket)
    with aws_errors("GetDevice", credentials):
        aws_device = AwsDevice(spec.arn, aws_session=aws)
    with aws_errors("results bucket", credentials):
        bucket = aws.default_bucket()  # without one configured: the SDK's default bucket
    device_parameters: dict[str, Any] = {}
    if mitigated == "debias":
        check_debias_shots(task.shots, _debias_minimum(aws_device))
        device_parameters["errorMitigation"] = [{"type": DEBIAS}]
    # Debiasing is documented per task (its shot minimum too): those jobs keep a task each.
    limits = None if mitigated else limits_of(aws_device.properties)
    chunks = pack(work_of(loaded, circuit_programs), task.shots, limits)
    actions = (
        _one_each(loaded, circuit_programs, task.shots)
        if chunks is None
        else [
            (program_set(chunk, loaded, circuit_programs), task.shots * executables(chunk))
            for chunk in chunks
        ]
    )
    hook = TokenHook()
    events = aws_device.aws_session.braket_client.meta.events
    events.register("before-parameter-build.braket.CreateQuantumTask", hook)
    base = task.client_token or task.job_id
    prefix = f"{config.braket_s3_prefix.strip('/')}/{task.job_id}"

    def create(indexed: tuple[int, tuple[Any, int]]) -> str:
        index, (action, shots) = indexed
        hook.token = client_token(base, index)
        with aws_errors("CreateQuantumTask", credentials):
            created = aws_device.run(
                action,
                s3_destination_folder=(bucket, prefix),
                shots=shots,
                device_parameters=copy.deepcopy(device_parameters) or None,
                quiet=True,
            )
        return str(created.id)

    arns = in_parallel(create, list(enumerate(actions)))
    data: dict[str, Any] = {
        "device_arn": spec.arn,
        "region": at,
        "bucket": bucket,
        "prefix": prefix,
        "shots": task.shots,
        "mitigation": mitigated or "none",
        "circuits": [
            layout_data(circuit, ps) for circuit, ps in zip(loaded, circuit_programs, strict=True)
        ],
    }
    if chunks is not None:
        data["program_sets"] = as_data(chunks)
    return ProviderJob(PROVIDER, tuple(arns), data)


def _one_each(
    loaded: list[LoadedCircuit], circuit_programs: list[list[Program]], shots: int
) -> list[tuple[Any, int]]:
    """A program per task, in `results.one_task_each` order (circuit, parameter set, group)."""
    from braket.ir.openqasm import Program as BraketProgram

    return [
        (BraketProgram(source=program.source, inputs=program.bound_inputs(values) or None), shots)
        for circuit, ps in zip(loaded, circuit_programs, strict=True)
        for values in circuit.values
        for program in ps
    ]


def _debias_minimum(aws_device: Any) -> int:
    try:
        from braket.device_schema.error_mitigation import Debias

        schemes = aws_device.properties.provider.errorMitigation or {}
        return int(schemes[Debias].minimumShots)
    except Exception:
        return DEBIAS_MINIMUM_SHOTS


def job_region(job: ProviderJob, spec: Spec, credentials: dict[str, str]) -> str:
    return str(job.data.get("region") or region(spec, credentials))


def cancel(
    spec: Spec, job: ProviderJob, credentials: dict[str, str], config: ProviderConfig
) -> None:
    """CancelQuantumTask for every task of the job; finished ones (ConflictException) are fine;
    the first other failure is raised once every task was asked."""
    aws = session(credentials, config, job_region(job, spec, credentials), job.data.get("bucket"))
    failure: ProviderError | None = None
    for arn in job.ids:
        try:
            with aws_errors("CancelQuantumTask", credentials):
                aws.cancel_quantum_task(arn)
        except ProviderError as error:
            if error.provider_code in ("ConflictException", "ResourceNotFoundException"):
                continue
            if error.code == "invalid_credentials":
                raise
            failure = failure or error
    if failure is not None:
        raise failure


_STATUS_FAILURES = (
    "invalid_credentials",
    "provider_unavailable",
    "provider_timeout",
    "rate_limited",
)
"""Failures of GetDevice that concern every device (the others: that device's status unknown)."""


def live_status(
    devices: list[Device], credentials: dict[str, str], config: ProviderConfig
) -> dict[str, dict[str, Any]]:
    """GetDevice per remote device: its status and the quantum-task queue depth."""
    status: dict[str, dict[str, Any]] = {}
    by_region: dict[str, list[Spec]] = {}
    for device in devices:
        spec = SPECS.get(device.id)
        if spec is None:
            continue
        if not spec.remote:
            status[spec.id] = {"status": "online", "queue_length": 0}
            continue
        by_region.setdefault(region(spec, credentials), []).append(spec)
    for at, specs in by_region.items():
        braket_client = session(credentials, config, at, None).braket_client
        for spec in specs:
            try:
                with aws_errors("GetDevice", credentials):
                    answer = braket_client.get_device(deviceArn=spec.arn)
            except ProviderError as error:
                if error.code in _STATUS_FAILURES:
                    raise
                status[spec.id] = {"status": "unknown", "queue_length": None}
                continue
            status[spec.id] = {
                "status": str(answer.get("deviceStatus") or "unknown").lower(),
                "queue_length": _queue_length(answer.get("deviceQueueInfo")),
            }
    return status


def _queue_length(queues: Any) -> int | None:
    """Quantum tasks waiting (normal + priority); Braket writes '>4000' past its cap."""
    if not queues:
        return None
    total, seen = 0, False
    for queue in queues:
        if queue.get("queue") != "QUANTUM_TASKS_QUEUE":
            continue
        digits = re.sub(r"\D", "", str(queue.get("queueSize") or ""))
        if digits:
            total += int(digits)
            seen = True
    return total if seen else None
