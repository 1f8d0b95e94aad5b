"""A task's life at IonQ: submitted as one multi-circuit IonQ job (split only at IonQ's limits,
batches.py), cancelled; answers.py polls it.

IonQ has no idempotency key. Each job carries `qorch_token` (the task's client token) and
`qorch_execution` (the executions it holds) in its metadata and name; before submitting, `submit`
lists the recent jobs on the backend (`GET /jobs?target=...`, newest first, LOOKUP_PAGES or more
pages) and reuses those it already created, so a retried submit after a lost answer or a partial
failure does not create (and pay for) a second job.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ionq.batches import Execution, job_tag, pack
from qorch.adapters.providers.ionq.catalogue import PROVIDER, Spec, spec_of
from qorch.adapters.providers.ionq.circuits import Prepared, prepare
from qorch.adapters.providers.ionq.client import IonQ, connect
from qorch.adapters.providers.ionq.errors import provider_error
from qorch.adapters.providers.ionq.options import Options, mitigation, parse_options
from qorch.domain.devices import Device
from qorch.domain.execution import ExecutionTask, ProviderError, ProviderJob

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

LOOKUP_PAGES = 5
LOOKUP_PAGE_SIZE = 100


def submit(
    task: ExecutionTask, device: Device, credentials: dict[str, str], config: ProviderConfig
) -> ProviderJob:
    spec = spec_of(device)
    client = connect(credentials, config)
    options = parse_options(device, task.options)
    mitigated = mitigation(spec, options, task.use_mitigation, task.shots)
    circuits = prepare(task, device, options)  # everything local fails before any call
    packs = pack(circuits)
    _check_size(client, spec, circuits)
    earlier = _find_submitted(client, spec, task.client_token, max(len(e) for e in packs))
    ids = []
    reused = start = 0
    for executions in packs:
        tag = job_tag(start, len(executions))
        start += len(executions)
        job_id = earlier.get(tag) or client.earlier_submit(task.client_token, tag)
        if job_id is not None:
            reused += 1
        else:
            bound = [(e, circuits[e.circuit].bound(e.parameter_set, e.group)) for e in executions]
            body = _body(client, task, spec, options, mitigated, tag, bound)
            job_id = client.submit(body, task.client_token, tag)
        ids.append(job_id)
    return ProviderJob(
        provider=PROVIDER,
        ids=tuple(ids),
        data={
            "device": device.id,
            "ionq_backend": spec.backend,
            "shots": task.shots,
            "mitigation": mitigated,
            "noise_model": options.noise_model,
            "sampler_seed": options.sampler_seed,
            "optimization_level": options.optimization_level,
            "client_token": task.client_token,
            "reused_jobs": reused,
            "jobs": [len(executions) for executions in packs],
            "layout": [[len(c.values), len(c.measured)] for c in circuits],
            "clbits": [c.clbits for c in circuits],
            "shapes": [c.shapes[0] for c in circuits],
            "group_shapes": [c.shapes for c in circuits],
        },
    )


def cancel(
    device: Device, job: ProviderJob, credentials: dict[str, str], config: ProviderConfig
) -> None:
    """Cancels every job of the task (IonQ ignores a cancel of a finished job)."""
    spec_of(device)
    client = connect(credentials, config)
    first_error: ProviderError | None = None
    for job_id in job.ids:
        try:
            client.request("PUT", f"jobs/{job_id}/status/cancel", "cancel")
        except ProviderError as error:
            if error.code == "provider_timeout":
                raise
            first_error = first_error or error
    if first_error is not None:
        raise first_error


def _check_size(client: IonQ, spec: Spec, circuits: list[Prepared]) -> None:
    """The backend as IonQ describes it now: its qubits may be fewer than the catalogue's."""
    answer = client.get(f"backends/{spec.backend}", "backend")
    qubits = answer.get("qubits") if isinstance(answer, dict) else None
    for index, circuit in enumerate(circuits):
        width = circuit.measured[0].num_qubits
        if isinstance(qubits, int) and width > qubits:
            raise ProviderError(
                "device_too_small",
                f"circuits[{index}]: {width} qubits, but IonQ's {spec.backend} has {qubits} now",
            )


def _find_submitted(client: IonQ, spec: Spec, token: str, children: int) -> dict[str, str]:
    """Jobs of this task already at IonQ (a retry after a lost answer): job tag -> id. A
    multi-circuit job's children may be listed before it (newer): one more page per page of
    children it can have."""
    found: dict[str, str] = {}
    if not token:
        return found
    params: dict[str, Any] = {"target": spec.backend, "limit": LOOKUP_PAGE_SIZE}
    for _ in range(LOOKUP_PAGES + math.ceil(children / LOOKUP_PAGE_SIZE)):
        page = client.get("jobs", "job lookup", params)
        for job in page.get("jobs") or []:
            metadata = job.get("metadata") or {}
            if job.get("parent_job_id"):
                continue  # a child of a multi-circuit job (it may carry its parent's metadata)
            if metadata.get("qorch_token") == token and "qorch_execution" in metadata:
                found.setdefault(str(metadata["qorch_execution"]), str(job["id"]))
        cursor = page.get("next")
        if not cursor:
            break
        params = {**params, "next": cursor}
    return found


def _body(
    client: IonQ,
    task: ExecutionTask,
    spec: Spec,
    options: Options,
    mitigated: str,
    tag: str,
    bound: list[tuple[Execution, QuantumCircuit]],
) -> str:
    """The job's JSON as qiskit-ionq writes it (its own serialiser): ionq.circuit.v1 for one
    execution, ionq.multi-circuit.v1 for more."""
    from qiskit.providers import Options as BackendOptions
    from qiskit_ionq.constants import ErrorMitigation
    from qiskit_ionq.helpers import qiskit_to_ionq

    arguments: dict[str, Any] = {
        "shots": task.shots,
        "name": f"qorch {task.client_token} {tag}"[:200],
        "job_settings": None,
        "dry_run": False,
    }
    if spec.simulator:
        arguments["noise_model"] = options.noise_model
        arguments["sampler_seed"] = options.sampler_seed
    else:
        # Sent either way: IonQ turns debiasing on by default for larger jobs, and it changes
        # the price (a higher per-job minimum).
        arguments["error_mitigation"] = (
            ErrorMitigation.DEBIASING if mitigated == "debiasing" else ErrorMitigation.NO_DEBIASING
        )
    # The serialiser reads the noise seed from the backend's options, not from the job's.
    backend = _Backend(
        f"ionq_{spec.backend}",
        BackendOptions(noise_model=options.noise_model, sampler_seed=options.sampler_seed),
    )
    circuits = [circuit for _, circuit in bound]
    try:
        text = str(
            qiskit_to_ionq(
                circuits[0] if len(circuits) == 1 else circuits,
                backend,
                arguments,
                extra_query_params={},
                extra_metadata={"qorch_token": task.client_token, "qorch_execution": tag},
            )
        )
    except Exception as error:
        raise provider_error(error, client.key, "submit") from None
    if len(circuits) == 1:
        return text
    body = json.loads(text)
    # qiskit-ionq packs every circuit's Qiskit header into one metadata value, which IonQ
    # bounds in length; qorch maps results back from its own record instead.
    body["metadata"].pop("qiskit_header", None)
    for entry, (execution, _) in zip(body["input"]["circuits"], bound, strict=True):
        entry["name"] = execution.tag
    return json.dumps(body)


class _Backend:
    """What qiskit-ionq's serialiser reads of a backend. The SDK's own backends size themselves
    when built, with GETs to IONQ_API_URL (an environment variable, not our configured URL) that
    fall back silently after a timeout: nothing a job's body needs."""

    def __init__(self, name: str, options: Any) -> None:
        self.name = name
        self.options = options

    def gateset(self) -> str:
        return "qis"
