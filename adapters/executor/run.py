"""Runs a claimed job — a dry run's estimate, a local simulation in a worker process, or a
remote provider's job — and answers the command that records its outcome, with the value."""

from __future__ import annotations

import logging
import math
import os
import tempfile
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread

from qorch.adapters.executor.batch import is_small
from qorch.adapters.executor.recorded import gathered, run_recorded
from qorch.adapters.executor.remote import Record, RemoteRuns
from qorch.adapters.executor.workers import RunInWorker, run_each
from qorch.adapters.providers import Registry, in_worker, warm_up
from qorch.adapters.providers.pipeline.secrets import without_secrets
from qorch.adapters.quotas import Quotas
from qorch.adapters.vault import CredentialVault
from qorch.adapters.worker_limits import call_with_memory_limit, memory_limit_error
from qorch.domain.application import Claim, Qorch
from qorch.domain.devices import Device
from qorch.domain.execution import ProviderError
from qorch.domain.ports import Provider

log = logging.getLogger("qorch.executor")

MAX_ATTEMPTS = 3
"""Claims of one job whose worker process died before it fails as worker_crashed."""


@dataclass
class Runner:
    app: Qorch
    registry: Registry
    quotas: Quotas
    run_in_worker: RunInWorker
    remote: RemoteRuns
    vault: CredentialVault | None
    solo: set[UUID] = field(default_factory=set)
    """Jobs whose batch failed as a whole: from now on they run alone."""
    spill_dir: str | None = None
    """Where worker processes leave long results texts (recorded.py): the executor's own
    directory, there while it runs."""
    cold: bool = False
    """A worker process was killed: the next local job first warms a fresh one, untimed, so its
    time limit is not spent on starting a process and importing Qiskit."""

    async def run_claimed(self, claim: Claim) -> tuple[Record, Any]:
        credentials: dict[str, str] = {}
        try:
            device = self.app.find_device(claim.task.device_id)
            if device is None:
                raise ProviderError(
                    "unknown_device", f"device {claim.task.device_id!r} left the catalogue"
                )
            provider = self.registry.provider_of(device)
            if claim.dry_run:
                estimate = await self.run_local(
                    device.id, in_worker, provider, "estimate", claim.task, device
                )
                return self.app.record_estimate, estimate
            credentials = await self._credentials(claim, device)
            if device.remote:
                return await self.remote.run(claim, device, credentials)
            record = await self.run_local(
                device.id, run_recorded, *self._run_args(claim, provider, device, credentials)
            )
            return self.app.record_results, await gathered(record)
        except ProviderError as error:
            return self.app.record_failure, without_secrets(error.as_dict(), credentials)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as error:
            return self._broken(claim, error, credentials)

    def batchable(self, claim: Claim) -> bool:
        """A small job on a local simulator: worth running with others in one worker call."""
        device = self.app.find_device(claim.task.device_id)
        if device is None or device.remote or claim.dry_run or claim.job_id in self.solo:
            return False
        sets = sum(len(c.parameter_sets or ()) or 1 for c in claim.task.circuits)
        return is_small(claim.qubits, claim.gates, claim.control_flow, claim.task.shots, sets)

    async def run_batch(self, claims: list[Claim]) -> list[tuple[Record, Any]]:
        """Small local jobs of one device in one worker call, within the device's limits for
        one job. If the call as a whole fails (past a limit, the process died), its jobs are
        released and later run one by one, each under its own limits."""
        device = self.app.find_device(claims[0].task.device_id)
        assert device is not None
        provider = self.registry.provider_of(device)
        calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
            (run_recorded, self._run_args(claim, provider, device, {})) for claim in claims
        ]
        try:
            answers = await self.run_local(device.id, run_each, calls)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as error:
            log.warning(
                "a batch of %d jobs failed (%r); running them one by one", len(claims), error
            )
            self.solo.update(claim.job_id for claim in claims)
            return [(self._release, None) for _ in claims]
        assert len(answers) == len(claims)
        return [
            (self.app.record_results, await gathered(value))
            if ok
            else (self.app.record_failure, value.as_dict())
            for ok, value in answers
        ]

    def _broken(
        self, claim: Claim, error: Exception, credentials: dict[str, str]
    ) -> tuple[Record, Any]:
        """The worker process died (killed with its process group on shutdown, or by the OOM
        killer) or something unexpected broke: try again, then fail with what happened."""
        if claim.attempt < MAX_ATTEMPTS:
            failed = without_secrets(repr(error), credentials)
            log.warning("job %s: run failed (%s); releasing the job", claim.job_id, failed)
            return self._release, None
        log.error(
            "job %s failed:\n%s",
            claim.job_id,
            without_secrets(traceback.format_exc(), credentials),
        )
        return self.app.record_failure, without_secrets(_failure(error, claim), credentials)

    async def run_local(self, device_id: str, function: Callable[..., Any], *args: Any) -> Any:
        """A job's work in a worker process, within the device's time and memory limits: past
        the time limit the worker process is killed (and a fresh one started for the next
        job); an allocation past the memory limit fails in the worker. Both end the job with
        a non-retryable ProviderError (time_limit, memory_limit)."""
        seconds = self.quotas.time_limit_for(device_id)
        memory_mb = self.quotas.memory_limit_mb_for(device_id)
        call: tuple[Any, ...] = (function, *args)
        near = ""
        if memory_mb > 0:
            near = os.path.join(tempfile.gettempdir(), f"qorch-memory-{uuid.uuid4().hex}")
            call = (call_with_memory_limit, memory_mb, near, warm_up, *call)
        if self.cold:
            self.cold = False
            try:
                await self.run_in_worker(warm_up, self.registry.config)
            except Exception:  # a cold worker is slower, not broken
                log.exception("warming up a fresh worker process failed")
        try:
            with anyio.move_on_after(seconds if seconds > 0 else math.inf):
                return await self.run_in_worker(*call)
            self.cold = True
            raise ProviderError(
                "time_limit",
                f"the job ran longer than its time limit of {seconds:g} s on {device_id} and "
                "was stopped",
                retryable=False,
            )
        except anyio.BrokenWorkerProcess:
            if near and os.path.exists(near):
                # The worker died with its data segment at the limit: out of memory, not a
                # crash worth trying again.
                raise memory_limit_error(memory_mb) from None
            raise
        finally:
            if near and os.path.exists(near):
                os.unlink(near)

    async def _credentials(self, claim: Claim, device: Device) -> dict[str, str]:
        if not device.remote:
            return {}
        held = None
        if self.vault is not None:
            held = await anyio.to_thread.run_sync(self.vault.open, claim.job_id)
        if held is None:
            raise ProviderError(
                "credentials_unavailable",
                f"the credentials for {device.id} held for this job are gone or cannot be opened "
                "here (every machine must share QORCH_SECRET_KEY); submit the job again",
            )
        return held

    def _release(self, job_id: UUID, worker_id: str, _: Any) -> bool:
        return self.app.release_job(job_id, worker_id)

    def _run_args(
        self, claim: Claim, provider: Provider, device: Device, credentials: dict[str, str]
    ) -> tuple[Any, ...]:
        return (
            provider,
            claim.task,
            device,
            credentials,
            claim.with_parameters,
            claim.with_observables,
            self.spill_dir,
        )


def _failure(error: Exception, claim: Claim) -> dict[str, Any]:
    if isinstance(error, anyio.BrokenWorkerProcess):
        return {
            "code": "worker_crashed",
            "message": f"the simulator process died {claim.attempt} times (out of memory, or "
            "a crash in the simulator); the job was not completed",
            "retryable": True,
        }
    return {
        "code": "internal_error",
        "message": f"{type(error).__name__}: {error}",
        "retryable": False,
    }
