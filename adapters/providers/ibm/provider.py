"""IBM Quantum behind the Provider port: QPUs through IBM Quantum Platform (submitted, then
polled), and noisy devices in qiskit-ibm-runtime's local testing mode (run inline).

qiskit-ibm-runtime is imported lazily, by the modules doing the work: listing devices and
checking requests never import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ibm import catalogue, client, estimate, local, options, primitives
from qorch.domain.devices import Device
from qorch.domain.execution import CostEstimate, ExecutionOutcome, ExecutionTask, ProviderJob


@dataclass(frozen=True)
class IbmProvider:
    config: ProviderConfig = field(default_factory=ProviderConfig)
    name: str = catalogue.PROVIDER

    devices = staticmethod(catalogue.devices)
    check_request = staticmethod(options.check_request)

    def estimate(self, task: ExecutionTask, device: Device) -> CostEstimate:
        return estimate.estimate(task, device)

    def run(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ExecutionOutcome:
        return local.run(task, device)

    def submit(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ProviderJob:
        return client.submit(task, device, credentials, self.config)

    def poll(
        self, task: ExecutionTask, device: Device, job: ProviderJob, credentials: dict[str, str]
    ) -> ExecutionOutcome | None:
        return client.poll(task, device, job, credentials, self.config)

    def cancel(self, device: Device, job: ProviderJob, credentials: dict[str, str]) -> None:
        client.cancel(device, job, credentials, self.config)

    def live_status(
        self, devices: list[Device], credentials: dict[str, str]
    ) -> dict[str, dict[str, Any]]:
        return client.live_status(devices, credentials, self.config)

    def warm_up(self) -> None:
        primitives.warm_up()
