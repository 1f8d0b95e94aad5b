"""A task's life at IonQ: submitted as one IonQ job per execution, polled, cancelled.

IonQ has no idempotency key. Each job carries `qorch_token` (the task's client token) and
`qorch_execution` in its metadata and name; before submitting, `submit` lists the recent jobs on
the backend (`GET /jobs?target=...`, newest first, up to LOOKUP_PAGES pages) and reuses those it
already created, so a retried submit after a lost answer or a partial failure does not create
(and pay for) a second job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ionq.catalogue import PROVIDER, Spec, spec_of
from qorch.adapters.providers.ionq.circuits import Prepared, executions, prepare
from qorch.adapters.providers.ionq.client import IonQ, connect
from qorch.adapters.providers.ionq.errors import provider_error, secret_free
from qorch.adapters.providers.ionq.options import Options, mitigation, parse_options
from qorch.adapters.providers.ionq.results import outcome
from qorch.domain.devices import Device
from qorch.domain.execution import ExecutionOutcome, ExecutionTask, ProviderError, ProviderJob

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
    _check_size(client, spec, circuits)
    earlier = _find_submitted(client, spec, task.client_token)
    ids = []
    reused = len(earlier)
    for c, p, g in executions(circuits):
        tag = f"{c}.{p}.{g}"
        job_id = earlier.get(tag)
        if job_id is None:
            job_id = client.earlier_submit(task.client_token, tag)
            if job_id is not None:
                reused += 1
        if job_id is None:
            body = _body(client, task, spec, options, mitigated, tag, circuits[c].bound(p, g))
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
            "layout": [[len(c.values), len(c.measured)] for c in circuits],
            "clbits": [c.clbits for c in circuits],
            "shapes": [c.shapes[0] for c in circuits],
        },
    )


def poll(
    task: ExecutionTask,
    device: Device,
    job: ProviderJob,
    credentials: dict[str, str],
    config: ProviderConfig,
) -> ExecutionOutcome | None:
    spec = spec_of(device)
    client = connect(credentials, config)
    layout = job.data.get("layout") or []
    expected = sum(sets * groups for sets, groups in layout)
    if len(job.ids) != expected or len(layout) != len(task.circuits):
        raise ProviderError(
            "provider_failed",
            f"the recorded IonQ jobs ({len(job.ids)}) do not match the task ({expected})",
        )
    # The last job is submitted last and usually finishes last: while it runs, one GET suffices.
    answers: dict[str, dict[str, Any]] = {}
    for job_id in reversed(job.ids):
        answer = client.get(f"jobs/{job_id}", "job status")
        status = answer.get("status")
        if status == "failed":
            failure = answer.get("failure") or {}
            code = failure.get("code") or "failed"
            detail = failure.get("message") or failure.get("error") or "no details"
            raise ProviderError(
                "provider_failed",
                secret_free(f"IonQ job {job_id} failed: {code}: {detail}", client.key),
                provider_code=str(code),
            )
        if status == "canceled":
            raise ProviderError(
                "provider_cancelled", f"IonQ job {job_id} was cancelled", provider_code="canceled"
            )
        if status != "completed":
            return None
        answers[job_id] = answer
    probabilities = [_probabilities(client, job_id, answers[job_id]) for job_id in job.ids]
    return outcome(task, spec, job, answers, probabilities)


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


def _find_submitted(client: IonQ, spec: Spec, token: str) -> dict[str, str]:
    """Jobs of this task already at IonQ (a retry after a lost answer): execution tag -> id."""
    found: dict[str, str] = {}
    if not token:
        return found
    params: dict[str, Any] = {"target": spec.backend, "limit": LOOKUP_PAGE_SIZE}
    for _ in range(LOOKUP_PAGES):
        page = client.get("jobs", "job lookup", params)
        for job in page.get("jobs") or []:
            metadata = job.get("metadata") or {}
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
    circuit: QuantumCircuit,
) -> str:
    """The job's JSON as qiskit-ionq writes it (its own serialiser, ionq.circuit.v1)."""
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
    try:
        return str(
            qiskit_to_ionq(
                circuit,
                backend,
                arguments,
                extra_query_params={},
                extra_metadata={"qorch_token": task.client_token, "qorch_execution": tag},
            )
        )
    except Exception as error:
        raise provider_error(error, client.key, "submit") from None


class _Backend:
    """What qiskit-ionq's serialiser reads of a backend. The SDK's own backends size themselves
    when built, with GETs to IONQ_API_URL (an environment variable, not our configured URL) that
    fall back silently after a timeout: nothing a job's body needs."""

    def __init__(self, name: str, options: Any) -> None:
        self.name = name
        self.options = options

    def gateset(self) -> str:
        return "qis"


def _probabilities(client: IonQ, job_id: str, answer: dict[str, Any]) -> dict[str, float]:
    results = answer.get("results") or {}
    url = (results.get("probabilities") or {}).get("url")
    data = client.get(url or f"jobs/{job_id}/results/probabilities", "results")
    return {str(k): float(v) for k, v in dict(data).items()}
