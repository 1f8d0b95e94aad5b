"""The local provider: Qiskit Aer, ideal and with the noise of fake IBM devices, run inline in
the worker process. Qiskit is imported lazily; `warm_up` pays the imports in a fresh worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.local.catalogue import PROVIDER, find_local_device, local_devices
from qorch.adapters.providers.local.estimate import estimate
from qorch.adapters.providers.local.options import check_request as check_options
from qorch.adapters.providers.local.plan import prepare
from qorch.adapters.providers.local.run import execute
from qorch.domain.devices import Device
from qorch.domain.execution import (
    CircuitTask,
    CostEstimate,
    ExecutionOutcome,
    ExecutionTask,
    ProviderError,
    ProviderJob,
)

_BELL = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0], q[1];
measure q -> c;
"""


@dataclass(frozen=True)
class LocalProvider:
    config: ProviderConfig
    name: str = PROVIDER

    def devices(self) -> list[Device]:
        return local_devices(self.config.max_dense_qubits)

    def check_request(
        self, device: Device, run_type: str, options: dict[str, Any], mitigate: bool
    ) -> None:
        check_options(device, run_type, options, mitigate)

    def estimate(self, task: ExecutionTask, device: Device) -> CostEstimate:
        return estimate(task, prepare(task, device.id, self.config.max_dense_qubits))

    def run(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ExecutionOutcome:
        return execute(task, prepare(task, device.id, self.config.max_dense_qubits))

    def submit(
        self, task: ExecutionTask, device: Device, credentials: dict[str, str]
    ) -> ProviderJob:
        raise _inline(device)

    def poll(
        self, task: ExecutionTask, device: Device, job: ProviderJob, credentials: dict[str, str]
    ) -> ExecutionOutcome | None:
        raise _inline(device)

    def cancel(self, device: Device, job: ProviderJob, credentials: dict[str, str]) -> None:
        raise _inline(device)

    def live_status(
        self, devices: list[Device], credentials: dict[str, str]
    ) -> dict[str, dict[str, Any]]:
        return {}  # always there: nothing to ask

    def warm_up(self) -> None:
        """Pays imports and first-use costs so a fresh worker process answers at full speed."""
        import qiskit_aer.primitives  # noqa: F401
        import qiskit_ibm_runtime.fake_provider  # noqa: F401
        import qiskit_qasm3_import  # noqa: F401

        # The first run of a method reserves its memory (128 MiB for a matrix product state):
        # paid here, outside any job's memory limit.
        for device_id in ("aer_simulator", "aer_simulator_matrix_product_state"):
            device = find_local_device(device_id, self.config.max_dense_qubits)
            assert device is not None
            task = ExecutionTask("warm-up", device.id, "Run", 16, (CircuitTask(_BELL),))
            self.run(task, device, {})


def _inline(device: Device) -> ProviderError:
    return ProviderError(
        "unsupported_operation", f"{device.id} is a local simulator: it runs inline, never remote"
    )
