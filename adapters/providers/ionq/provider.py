"""IonQ behind the Provider port: the simulator and the Aria / Forte QPUs, through IonQ's REST
API v0.4 and qiskit-ionq 1.1.1's job serialiser. Every device is remote: submitted, polled and
cancelled; a dry run transpiles and prices locally. Modules of this package import Qiskit,
qiskit-ionq and requests only when a job needs them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ionq import catalogue
from qorch.adapters.providers.ionq.options import check_request
from qorch.domain.devices import Device
from qorch.domain.execution import (
    CostEstimate,
    ExecutionOutcome,
    ExecutionTask,
    ProviderError,
    ProviderJob,
)


@dataclass(frozen=True)
class IonQProvider:
    config: ProviderConfig
    name: str = catalogue.PROVIDER

    devices = staticmethod(catalogue.devices)
    check_request = staticmethod(check_request)

    def estimate(self, task: ExecutionTask, device: Device) -> CostEstimate:
        from qorch.adapters.providers.ionq.estimate import estimate

        return estimate(task, device)

    def run(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ExecutionOutcome:
        raise ProviderError(
            "unsupported_option", f"{device.id} runs at IonQ: it is submitted and polled"
        )

    def submit(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ProviderJob:
        from qorch.adapters.providers.ionq.jobs import submit

        return submit(task, device, credentials, self.config)

    def poll(
        self, task: ExecutionTask, device: Device, job: ProviderJob, credentials: dict[str, str]
    ) -> ExecutionOutcome | None:
        from qorch.adapters.providers.ionq.answers import poll

        return poll(task, device, job, credentials, self.config)

    def cancel(self, device: Device, job: ProviderJob, credentials: dict[str, str]) -> None:
        from qorch.adapters.providers.ionq.jobs import cancel

        cancel(device, job, credentials, self.config)

    def live_status(
        self, devices: list[Device], credentials: dict[str, str]
    ) -> dict[str, dict[str, Any]]:
        from qorch.adapters.providers.ionq.status import live_status

        return live_status(devices, credentials, self.config)

    def warm_up(self) -> None:
        import qiskit_ionq.helpers  # noqa: F401  (the serialiser a first submit imports: Qiskit)
