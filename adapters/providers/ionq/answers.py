"""Polling a task's IonQ jobs: None while any runs; once all are final, every execution's
probabilities or failure, read from the job (ionq.circuit.v1) or from its child jobs
(ionq.multi-circuit.v1: one child per circuit, in submission order).

A completed multi-circuit job answers its children's probabilities at once, keyed by child job
id; a child missing there (it failed, or the parent failed as a whole) is read on its own. The
task keeps what ran: only when no execution ran does polling fail, with the first one's error.
"""

from __future__ import annotations

from typing import Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ionq.catalogue import spec_of
from qorch.adapters.providers.ionq.client import IonQ, connect
from qorch.adapters.providers.ionq.cost import actual_cost
from qorch.adapters.providers.ionq.errors import secret_free
from qorch.adapters.providers.ionq.results import Answer, Failed, Ran, outcome
from qorch.domain.devices import Device
from qorch.domain.execution import ExecutionOutcome, ExecutionTask, ProviderError, ProviderJob

FINAL = ("completed", "failed", "canceled")


def poll(
    task: ExecutionTask,
    device: Device,
    job: ProviderJob,
    credentials: dict[str, str],
    config: ProviderConfig,
) -> ExecutionOutcome | None:
    spec = spec_of(device)
    client = connect(credentials, config)
    sizes = executions_per_job(task, job)
    # The last job is submitted last and usually finishes last: while it runs, one GET suffices.
    jobs: dict[str, dict[str, Any]] = {}
    for job_id in reversed(job.ids):
        answer = client.get(f"jobs/{job_id}", "job status")
        status = answer.get("status")
        if status == "canceled":
            raise ProviderError(
                "provider_cancelled", f"IonQ job {job_id} was cancelled", provider_code="canceled"
            )
        if status not in FINAL:
            return None
        jobs[job_id] = answer
    answers: list[Answer] = []
    for job_id, size in zip(job.ids, sizes, strict=True):
        found = _answers(client, job_id, jobs[job_id], size)
        if found is None:
            return None
        answers.extend(found)
    failures = [answer for answer in answers if isinstance(answer, Failed)]
    if len(failures) == len(answers):
        raise failures[0].error
    result = outcome(task, spec, job, jobs, answers)
    result.cost = actual_cost(client, spec, job, answers, sizes)
    return result


def executions_per_job(task: ExecutionTask, job: ProviderJob) -> list[int]:
    """How many executions each IonQ job of `job.ids` holds, checked against the task (a job
    recorded before multi-circuit jobs holds one)."""
    layout = job.data.get("layout") or []
    expected = sum(sets * groups for sets, groups in layout)
    sizes = [int(size) for size in job.data.get("jobs") or [1] * len(job.ids)]
    if len(sizes) != len(job.ids) or sum(sizes) != expected or len(layout) != len(task.circuits):
        raise ProviderError(
            "provider_failed",
            f"the recorded IonQ jobs ({sum(sizes)} executions) do not match the task ({expected})",
        )
    return sizes


def _answers(client: IonQ, job_id: str, answer: dict[str, Any], size: int) -> list[Answer] | None:
    """Each execution's answer in a final IonQ job; None if a child job is still running."""
    status = answer.get("status")
    children = [str(child) for child in answer.get("child_job_ids") or []]
    if not children:
        if status == "failed":
            return [_failed(client, job_id, answer)] * size
        if size == 1:
            return [Ran(job_id, _probabilities(client, job_id, answer))]
    if len(children) != size:
        raise ProviderError(
            "provider_failed",
            f"IonQ job {job_id} holds {len(children)} circuits; qorch submitted {size}",
        )
    together = _children_probabilities(client, job_id, answer) if status == "completed" else {}
    found: list[Answer] = []
    for child in children:
        if child in together:
            found.append(Ran(child, together[child]))
            continue
        child_answer = client.get(f"jobs/{child}", "job status")
        child_status = child_answer.get("status")
        if child_status == "completed":
            found.append(Ran(child, _probabilities(client, child, child_answer)))
        elif child_status in FINAL:
            found.append(_failed(client, child, child_answer))
        else:
            return None
    return found


def _failed(client: IonQ, job_id: str, answer: dict[str, Any]) -> Failed:
    if answer.get("status") == "canceled":
        error = ProviderError(
            "provider_cancelled", f"IonQ job {job_id} was cancelled", provider_code="canceled"
        )
        return Failed(job_id, error)
    failure = answer.get("failure") or {}
    code = failure.get("code") or "failed"
    detail = failure.get("message") or failure.get("error") or "no details"
    error = ProviderError(
        "provider_failed",
        secret_free(f"IonQ job {job_id} failed: {code}: {detail}", client.key),
        provider_code=str(code),
    )
    return Failed(job_id, error)


def _probabilities(client: IonQ, job_id: str, answer: dict[str, Any]) -> dict[str, float]:
    data = client.get(_results_url(job_id, answer), "results")
    return {str(k): float(v) for k, v in dict(data).items()}


def _children_probabilities(
    client: IonQ, job_id: str, answer: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """A multi-circuit job's results: child job id -> probabilities (those that ran); empty
    where IonQ refuses them together (each child is then read on its own)."""
    try:
        data = client.get(_results_url(job_id, answer), "results")
    except ProviderError as error:
        if error.retryable:
            raise
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(child): {str(k): float(v) for k, v in values.items()}
        for child, values in data.items()
        if isinstance(values, dict)
    }


def _results_url(job_id: str, answer: dict[str, Any]) -> str:
    results = answer.get("results") or {}
    url = (results.get("probabilities") or {}).get("url")
    return str(url or f"jobs/{job_id}/results/probabilities")
