"""The calls to IBM Quantum Platform: submit, poll, cancel and live status, one attempt each.

Idempotency: every IBM job is tagged `qorch:<client token>:<primitive>`; a submit first looks for
jobs with that tag and reuses them, so a submit retried after a lost answer does not create (and
pay for) a second job. A job with both sampled and estimated circuits makes two IBM jobs.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ibm import credentials, primitives, results
from qorch.adapters.providers.ibm.batches import Batch, batches, pubs
from qorch.adapters.providers.ibm.catalogue import LOCAL_DEVICES, PROVIDER, QPUS, hardware
from qorch.adapters.providers.ibm.circuits import load_task, transpile
from qorch.adapters.providers.ibm.options import mitigation, parse_options
from qorch.adapters.providers.ibm.service import calling, service_for
from qorch.adapters.providers.pipeline.errors import scrub
from qorch.domain.devices import Device
from qorch.domain.execution import ExecutionOutcome, ExecutionTask, ProviderError, ProviderJob

_JOB_LOOKUP_LIMIT = 5
_ERROR_CODE = re.compile(r"[Ee]rror code:? ?(\d+)")


def submit(
    task: ExecutionTask, device: Device, given: dict[str, str], config: ProviderConfig
) -> ProviderJob:
    """Transpiles to the QPU's current target and submits (or finds) one IBM job per primitive."""
    _remote(device)
    options = parse_options(task.options, device)
    wanted = mitigation(options, task.use_mitigation)
    token, instance = credentials.token(given), credentials.instance(given)
    loaded = load_task(task, device)  # a bad circuit fails before any network call
    with calling(token, "submit"):
        service = service_for(token, instance, config)
        backend = service.backend(device.id)
        prepared, transpile_seconds = transpile(loaded, backend, options, snapshot=False)
        entries: list[dict[str, Any]] = []
        applied: dict[str, dict[str, Any]] = {}
        for batch, _ in batches(prepared, wanted):
            tags = [f"qorch:{task.client_token}:{batch.kind}"] if task.client_token else []
            primitive_options = primitives.primitive_options(
                batch.kind, options, wanted, shots=task.shots, job_tags=tags
            )
            applied[batch.kind] = primitives.applied(batch.kind, primitive_options)
            job_id = _existing_job(service, device.id, tags)
            if job_id is None:
                job = primitives.run(
                    batch.kind, backend, primitive_options, pubs(batch, task.shots)
                )
                entries.append(_entry(batch, str(job.job_id()), reused=False))
            else:
                entries.append(_entry(batch, job_id, reused=True))
    return ProviderJob(
        provider=PROVIDER,
        ids=tuple(entry["id"] for entry in entries),
        data={
            "backend": device.id,
            "jobs": entries,
            "shapes": [p.shape for p in prepared],
            "applied": applied,
            "mitigation_requested": wanted.requested,
            "optimization_level": options.optimization_level,
            "seed_transpiler": options.seed_transpiler,
            "transpile_seconds": transpile_seconds,
            "shots": task.shots,
        },
    )


def poll(
    task: ExecutionTask,
    device: Device,
    job: ProviderJob,
    given: dict[str, str],
    config: ProviderConfig,
) -> ExecutionOutcome | None:
    """None while any IBM job of the task is queued or running; the outcome when all are done."""
    _remote(device)
    token, instance = credentials.token(given), credentials.instance(given)
    entries: list[dict[str, Any]] = list(job.data.get("jobs") or [])
    if not entries:
        entries = [{"id": i, "primitive": "sampler"} for i in job.ids]
    with calling(token, "poll"):
        service = service_for(token, instance, config)
        runtime_jobs = []
        for entry in entries:
            runtime_job = service.job(entry["id"])
            status = runtime_job.status()
            status = str(getattr(status, "name", status)).upper()
            if status in ("ERROR", "FAILED"):
                raise _failed(entry["id"], runtime_job, token)
            if status == "CANCELLED":
                raise ProviderError(
                    "provider_cancelled", f"IBM job {entry['id']} was cancelled at IBM Quantum"
                )
            if status != "DONE":
                return None
            runtime_jobs.append(runtime_job)
        return results.remote_outcome(task, device, job, entries, runtime_jobs)


def cancel(device: Device, job: ProviderJob, given: dict[str, str], config: ProviderConfig) -> None:
    _remote(device)
    token, instance = credentials.token(given), credentials.instance(given)
    with calling(token, "cancel"):
        from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError

        service = service_for(token, instance, config)
        for job_id in job.ids:
            with contextlib.suppress(RuntimeInvalidStateError):  # already final
                service.job(job_id).cancel()


def live_status(
    devices: list[Device], given: dict[str, str], config: ProviderConfig
) -> dict[str, dict[str, Any]]:
    """Operational state and queue length of each QPU (`backend.status()`)."""
    found: dict[str, dict[str, Any]] = {
        device.id: {"status": "online", "queue_length": 0}
        for device in devices
        if device.id in LOCAL_DEVICES
    }
    remote = [device for device in devices if device.id in QPUS]
    if not remote:
        return found
    token, instance = credentials.token(given), credentials.instance(given)
    with calling(token, "status"):
        service = service_for(token, instance, config)
        for device in remote:
            found[device.id] = _backend_status(service, device.id)
    return found


def _backend_status(service: Any, name: str) -> dict[str, Any]:
    from qiskit.providers.exceptions import QiskitBackendNotFoundError

    try:
        status = service.backend(name).status()
    except QiskitBackendNotFoundError:
        return {
            "status": "unavailable",
            "queue_length": None,
            "detail": "not available to this IBM Quantum instance",
        }
    message = str(getattr(status, "status_msg", "") or "")
    if not status.operational:
        state = "offline"
    elif message and message.lower() not in ("active", "online"):
        state = message.lower()
    else:
        state = "online"
    return {"status": state, "queue_length": int(status.pending_jobs), "detail": message}


def _remote(device: Device) -> None:
    if not hardware(device)[1]:
        raise ProviderError("internal", f"{device.id} runs in local testing mode: use run")


def _existing_job(service: Any, backend_name: str, tags: list[str]) -> str | None:
    """A job already submitted for this task (same tag), e.g. before a lost answer."""
    if not tags:
        return None
    found = service.jobs(job_tags=tags, backend_name=backend_name, limit=_JOB_LOOKUP_LIMIT)
    for job in found:
        if set(tags) <= set(getattr(job, "tags", None) or tags):
            return str(job.job_id())
    return None


def _entry(batch: Batch, job_id: str, *, reused: bool) -> dict[str, Any]:
    """What polling needs to map an IBM job's results back to the task's circuits."""
    return {
        "id": job_id,
        "primitive": batch.kind,
        "circuits": [p.index for p in batch.circuits],
        "measured": {str(k): v for k, v in batch.measured.items()},
        "calibrated": list(batch.calibrated),
        "unbound": [p.index for p in batch.circuits if not p.values.shape[1]],
        "reused": reused,
    }


def _failed(job_id: str, runtime_job: Any, token: str) -> ProviderError:
    message = str(runtime_job.error_message() or "no reason given")
    found = _ERROR_CODE.search(message)
    code = found.group(1) if found else getattr(runtime_job, "_reason_code", None)
    return ProviderError(
        "provider_failed",
        f"IBM job {job_id} failed: {scrub(message, {'token': token})}",
        provider_code=str(code) if code is not None else None,
    )
