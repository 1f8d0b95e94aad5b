"""Amazon Braket behind the Provider port: the local simulators (braket_sv, braket_dm) run
inline; the managed simulators (SV1, DM1) and QPUs are submitted, polled and cancelled at AWS.

A small frozen object (it is pickled into worker processes); the SDK is imported only when a
job needs it, so listing devices stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qorch.adapters.providers.braket import catalogue, client
from qorch.adapters.providers.braket.options import check_request
from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.devices import Device
from qorch.domain.execution import CostEstimate, ExecutionOutcome, ExecutionTask, ProviderJob


@dataclass(frozen=True)
class BraketProvider:
    config: ProviderConfig = field(default_factory=ProviderConfig)
    name: str = catalogue.PROVIDER

    devices = staticmethod(catalogue.devices)
    check_request = staticmethod(check_request)

    def estimate(self, task: ExecutionTask, device: Device) -> CostEstimate:
        from qorch.adapters.providers.braket.estimate import estimate

        return estimate(task, self._checked(task, device))

    def run(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ExecutionOutcome:
        from qorch.adapters.providers.braket.local import run_locally

        return run_locally(task, self._checked(task, device))

    def submit(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ProviderJob:
        return client.submit(task, self._checked(task, device), credentials, self.config)

    def poll(
        self, task: ExecutionTask, device: Device, job: ProviderJob, credentials: dict[str, str]
    ) -> ExecutionOutcome | None:
        from qorch.adapters.providers.braket.polling import poll

        return poll(task, catalogue.spec_of(device), job, credentials, self.config)

    def cancel(self, device: Device, job: ProviderJob, credentials: dict[str, str]) -> None:
        client.cancel(catalogue.spec_of(device), job, credentials, self.config)

    def live_status(
        self, devices: list[Device], credentials: dict[str, str]
    ) -> dict[str, dict[str, Any]]:
        return client.live_status(devices, credentials, self.config)

    def warm_up(self) -> None:
        """Nothing to ready: worker processes are warmed for the local Aer simulators only."""

    @staticmethod
    def _checked(task: ExecutionTask, device: Device) -> catalogue.Spec:
        check_request(device, task.run_type, task.options, task.use_mitigation)
        return catalogue.spec_of(device)
