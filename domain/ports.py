"""The ports the application and the executor call through; adapters implement them.

A `Provider` is everything qorch needs from one quantum provider (local Aer included). Its
methods run in worker processes, so an implementation is a small picklable object (its settings)
whose SDK clients live in module-level caches of its own package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol
from uuid import UUID

from qorch.domain.devices import Device
from qorch.domain.execution import CostEstimate, ExecutionOutcome, ExecutionTask, ProviderJob


class Provider(Protocol):
    @property
    def name(self) -> str:
        """The registry's key and every one of its devices' `provider`."""
        ...

    def devices(self) -> list[Device]:
        """The static catalogue (no network, no credentials)."""
        ...

    def check_request(
        self, device: Device, run_type: str, options: dict[str, Any], mitigate: bool
    ) -> None:
        """Raises ProviderError (with `field`) for what the device would refuse, before the
        job is recorded."""
        ...

    def estimate(self, task: ExecutionTask, device: Device) -> CostEstimate:
        """A dry run: the transpiled shape, QPU time and price; never reaches the provider."""
        ...

    def run(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ExecutionOutcome:
        """Runs a job on a device that is not `remote`, inline, in the calling process."""
        ...

    def submit(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ProviderJob:
        """One attempt at creating the job at the provider (idempotent on `task.client_token`);
        raises ProviderError, `retryable` and `retry_after` set where trying again may help."""
        ...

    def poll(
        self,
        task: ExecutionTask,
        device: Device,
        job: ProviderJob,
        credentials: dict[str, str],
    ) -> ExecutionOutcome | None:
        """The outcome once the provider has it; None while it is queued or running."""
        ...

    def cancel(self, device: Device, job: ProviderJob, credentials: dict[str, str]) -> None: ...

    def live_status(
        self, devices: list[Device], credentials: dict[str, str]
    ) -> dict[str, dict[str, Any]]:
        """Per device id: whatever the provider says now (status, queue length, ...)."""
        ...

    def warm_up(self) -> None:
        """Imports and builds what the first job would wait for (called in worker processes)."""
        ...


EstimateCost = Callable[[Device, ExecutionTask], CostEstimate]
"""What a run would cost on a paid device (the dry-run path: transpiled, priced, never sent),
for a budget to reserve before the job is recorded. Raises ProviderError for what the device
refuses or when no estimate could be made."""


class CredentialHolder(Protocol):
    """Keeps a job's provider credentials (encrypted) until the job ends; never in the log."""

    def hold(self, job_id: UUID, credentials: dict[str, str]) -> None: ...

    def destroy(self, job_id: UUID) -> None: ...
