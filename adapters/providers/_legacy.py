"""TRANSITIONAL (removed by the provider-seam redesign): a Provider over a first-round module."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.devices import Device
from qorch.domain.execution import CostEstimate, ExecutionOutcome, ExecutionTask, ProviderJob


@dataclass(frozen=True)
class ModuleProvider:
    name: str
    module_name: str
    config: ProviderConfig

    @property
    def module(self) -> Any:
        return importlib.import_module(self.module_name)

    def devices(self) -> list[Device]:
        if self.name == "local":
            from qorch.adapters.providers.local.catalogue import local_devices

            return local_devices(self.config.max_dense_qubits)
        devices: list[Device] = self.module.devices()
        return devices

    def check_request(
        self, device: Device, run_type: str, options: dict[str, Any], mitigate: bool
    ) -> None:
        self.module.check_request(device, run_type, options, mitigate)

    def estimate(self, task: ExecutionTask, device: Device) -> CostEstimate:
        if self.name == "local":
            return self.module.estimate_task(task, max_dense_qubits=self.config.max_dense_qubits)  # type: ignore[no-any-return]
        return self.module.estimate_task(task, device)  # type: ignore[no-any-return]

    def run(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ExecutionOutcome:
        if self.name == "local":
            return self.module.run_task(task, max_dense_qubits=self.config.max_dense_qubits)  # type: ignore[no-any-return]
        return self.module.run_task(task, device, credentials, self.config)  # type: ignore[no-any-return]

    def submit(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ProviderJob:
        return self.module.submit_task(task, device, credentials, self.config)  # type: ignore[no-any-return]

    def poll(
        self, task: ExecutionTask, device: Device, job: ProviderJob, credentials: dict[str, str]
    ) -> ExecutionOutcome | None:
        return self.module.poll_task(task, device, job, credentials, self.config)  # type: ignore[no-any-return]

    def cancel(self, device: Device, job: ProviderJob, credentials: dict[str, str]) -> None:
        self.module.cancel_task(device, job, credentials, self.config)

    def live_status(
        self, devices: list[Device], credentials: dict[str, str]
    ) -> dict[str, dict[str, Any]]:
        return self.module.live_status(devices, credentials, self.config)  # type: ignore[no-any-return]

    def warm_up(self) -> None:
        self.module.warm_up()
