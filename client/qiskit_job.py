"""The job a qorch primitive's `run` returns: one qorch job, followed through the client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qiskit.primitives import BasePrimitiveJob, PrimitiveResult
from qiskit.providers import JobError, JobStatus

from qorch.client.errors import QorchError
from qorch.client.sync import Client

Job = dict[str, Any]
STATUSES = {
    "Submitted": JobStatus.INITIALIZING,
    "Initializing": JobStatus.INITIALIZING,
    "Queued": JobStatus.QUEUED,
    "Validating": JobStatus.VALIDATING,
    "Running": JobStatus.RUNNING,
    "Done": JobStatus.DONE,
    "Error": JobStatus.ERROR,
    "Cancelled": JobStatus.CANCELLED,
}
FINAL = frozenset({JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED})


class JobFailed(JobError):
    """The qorch job ended Error or Cancelled, or Done with some executions failed (partial):
    `job` is the final job as qorch answered it, `code`/`message` its error."""

    def __init__(self, job: Job) -> None:
        error = job.get("error") or {}
        if job.get("status") == "Cancelled":
            self.code, self.message = "cancelled", "the job was cancelled"
        elif job.get("partial"):
            self.code = "partial"
            self.message = (
                f"{job.get('failed_executions')} executions failed (job['errors'] has them); "
                "a primitive result needs every one"
            )
        else:
            self.code = str(error.get("code", "error"))
            self.message = str(error.get("message", "the job failed"))
        super().__init__(
            f"qorch job {job.get('id')} {job.get('status')}: {self.code}: {self.message}"
        )
        self.job = job


class QorchPrimitiveJob(BasePrimitiveJob[PrimitiveResult, JobStatus]):
    """`result()` waits for the qorch job (`timeout` seconds at most: WaitTimeout past it) and
    builds the PrimitiveResult; a job that did not end Done with every result raises
    JobFailed. `status()` is Qiskit's JobStatus for qorch's status."""

    def __init__(self, client: Client, job: Job, decode: Callable[[Job], PrimitiveResult]):
        super().__init__(str(job["id"]), device=job.get("device_id"))
        self._client = client
        self._decode = decode
        self._last = job
        self._result: PrimitiveResult | None = None

    @property
    def qorch_job(self) -> Job:
        """The qorch job as last seen."""
        return self._last

    def result(self, timeout: float | None = None) -> PrimitiveResult:
        if self._result is None:
            if not self.in_final_state():
                self._last = self._client.wait(self._job_id, timeout)
            if self._last.get("status") != "Done" or self._last.get("partial"):
                raise JobFailed(self._last)
            self._result = self._decode(self._last)
        return self._result

    def status(self) -> JobStatus:
        if STATUSES.get(self._last.get("status", "")) not in FINAL:
            self._last = self._client.job(self._job_id)
        return STATUSES[self._last["status"]]

    def done(self) -> bool:
        return self.status() is JobStatus.DONE

    def running(self) -> bool:
        return self.status() is JobStatus.RUNNING

    def cancelled(self) -> bool:
        return self.status() is JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        return self.status() in FINAL

    def cancel(self) -> bool:
        """True when the job is now cancelled; False when it had already ended."""
        try:
            self._last = self._client.cancel(self._job_id)
        except QorchError as error:
            if error.status != 409:
                raise
            self._last = self._client.job(self._job_id)
        return self._last.get("status") == "Cancelled"
