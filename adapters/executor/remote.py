"""A job on a remote provider: submitted once (or re-attached to the job an earlier claimant
recorded), polled until its results are in, cancelled there when its user cancels it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread

from qorch.adapters.executor.calls import ProviderCalls
from qorch.adapters.providers import Registry, in_worker
from qorch.adapters.providers.pipeline.secrets import without_secrets
from qorch.domain.application import Claim, Qorch
from qorch.domain.devices import Device
from qorch.domain.execution import ExecutionOutcome, ExecutionTask, ProviderError, ProviderJob

log = logging.getLogger("qorch.executor")

Record = Callable[[UUID, str, Any], bool]
"""A command that records a job's outcome while the worker holds its claim."""


@dataclass
class RemoteRuns:
    app: Qorch
    registry: Registry
    calls: ProviderCalls
    worker_id: str
    slot_freed: Callable[[], None]
    """Called when a job starts waiting at its provider: its local slot is free."""
    cancelled: set[UUID] = field(default_factory=set)
    """Jobs cancelled by their user while this executor ran them: cancel at the provider."""
    waiting: set[UUID] = field(default_factory=set)
    """Held jobs that are at a provider: polled, not using a local CPU."""

    async def run(
        self, claim: Claim, device: Device, credentials: dict[str, str]
    ) -> tuple[Record, Any]:
        handle: ProviderJob | None = claim.provider_job
        if handle is None and claim.job_id in self.cancelled:
            return _nothing, None
        if handle is None:
            # Shielded: a cancel arriving mid-submit must not leave a paid job unrecorded at
            # the provider; it is cancelled there as soon as the submit has answered.
            with anyio.CancelScope(shield=True):
                submitted: ProviderJob = await self.calls(
                    in_worker,
                    self.registry.provider_of(device),
                    "submit",
                    claim.task,
                    device,
                    credentials,
                    secrets=credentials,
                )
                handle = submitted
                recorded = await anyio.to_thread.run_sync(
                    self.app.record_provider_job, claim.job_id, self.worker_id, handle
                )
                if claim.job_id in self.cancelled:
                    await self.cancel(device, submitted, credentials)
                    return _nothing, None
            if not recorded:
                # Another worker took the job over; it re-submits with the same client token,
                # which the provider answers with this same job.
                return _nothing, None
            log.info("job %s submitted to %s as %s", claim.job_id, device.provider, submitted.ids)
        else:
            log.info("job %s re-attached to %s job %s", claim.job_id, device.provider, handle.ids)
        assert handle is not None  # (mypy: a cancel scope's exit might swallow the submit)
        self.waiting.add(claim.job_id)
        self.slot_freed()
        try:
            outcome = await self.poll_until_done(claim.task, handle, credentials)
        except anyio.get_cancelled_exc_class():
            if claim.job_id in self.cancelled:
                with anyio.CancelScope(shield=True):
                    await self.cancel(device, handle, credentials)
            raise
        finally:
            self.waiting.discard(claim.job_id)
        return self.app.record_results, outcome

    async def poll_until_done(
        self, task: ExecutionTask, handle: ProviderJob, credentials: dict[str, str]
    ) -> ExecutionOutcome:
        """Polls until the provider has the results. A provider that is down or slow to answer
        does not end the job (it is still queued there): polling goes on, ever less often."""
        config = self.calls.config
        interval = config.poll_interval
        device = self.app.find_device(task.device_id)
        if device is None:
            raise ProviderError("unknown_device", f"device {task.device_id!r} left the catalogue")
        provider = self.registry.provider_of(device)
        while True:
            try:
                outcome: ExecutionOutcome | None = await self.calls(
                    in_worker,
                    provider,
                    "poll",
                    task,
                    device,
                    handle,
                    credentials,
                    secrets=credentials,
                )
            except ProviderError as error:
                if not error.retryable:
                    raise
                outcome = None
                interval = max(interval, error.retry_after or 0.0)
            if outcome is not None:
                return outcome
            await anyio.sleep(interval)
            interval = min(interval * 1.5, config.poll_interval * 15)

    async def cancel(
        self, device: Device, handle: ProviderJob, credentials: dict[str, str]
    ) -> None:
        try:
            await self.calls(
                in_worker,
                self.registry.provider_of(device),
                "cancel",
                device,
                handle,
                credentials,
                secrets=credentials,
            )
            log.info("job cancelled at %s: %s", device.provider, handle.ids)
        except Exception as error:
            log.error(
                "cancelling %s at %s failed: %s",
                handle.ids,
                device.provider,
                without_secrets(repr(error), credentials),
            )


def _nothing(job_id: UUID, worker_id: str, value: Any) -> bool:
    return True
