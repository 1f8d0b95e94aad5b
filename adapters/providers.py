"""Routes a task to the adapter of its device's provider; the calls run in worker processes.

Each provider is one module (aer for the local simulators, ibm, braket, ionq) with the same
functions: devices, check_request, estimate_task, run_task (devices run inline), submit_task /
poll_task / cancel_task (remote devices: submitted, recorded, polled) and live_status. Modules
are imported on first use and import their SDK lazily, so listing devices stays cheap.
"""

from __future__ import annotations

import importlib
import signal
from functools import cache
from types import ModuleType
from typing import Any

from qorch.adapters.provider_config import ProviderConfig
from qorch.domain.devices import Device
from qorch.domain.execution import (
    CostEstimate,
    ExecutionOutcome,
    ExecutionTask,
    ProviderError,
    ProviderJob,
)
from qorch.settings import settings_from_env

ADAPTERS = {
    "local": "qorch.adapters.aer",
    "ibm": "qorch.adapters.ibm",
    "braket": "qorch.adapters.braket",
    "ionq": "qorch.adapters.ionq",
}


def adapter(provider: str) -> ModuleType:
    return importlib.import_module(ADAPTERS[provider])


@cache
def _max_dense_qubits() -> int:
    # Worker processes inherit the server's environment, so they see the same catalogue caps.
    return settings_from_env().max_dense_qubits


def catalogue(providers: tuple[str, ...], max_dense_qubits: int) -> list[Device]:
    """Every device of the given providers, local simulators first (static: no network)."""
    devices: list[Device] = []
    for provider in providers:
        if provider == "local":
            from qorch.adapters.simulators import local_devices

            devices.extend(local_devices(max_dense_qubits))
        else:
            devices.extend(adapter(provider).devices())
    return devices


@cache
def _devices() -> dict[str, Device]:
    return {d.id: d for d in catalogue(tuple(ADAPTERS), _max_dense_qubits())}


def find_device(device_id: str) -> Device:
    try:
        return _devices()[device_id]
    except KeyError:
        raise ProviderError(
            "unknown_device", f"device {device_id!r} is not in the catalogue"
        ) from None


@cache
def _leave_signals_to_the_parent() -> None:
    # A worker process lives and dies with its executor: SIGTERM or Ctrl-C sent to the whole
    # process group must not kill a simulation before the executor has released its job.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def check_request(device: Device, run_type: str, options: dict[str, Any], mitigate: bool) -> None:
    adapter(device.provider).check_request(device, run_type, options, mitigate)


def run_task(
    task: ExecutionTask,
    credentials: dict[str, str] | None = None,
    config: ProviderConfig | None = None,
) -> ExecutionOutcome:
    _leave_signals_to_the_parent()
    device = find_device(task.device_id)
    if device.provider == "local":
        from qorch.adapters import aer

        return aer.run_task(task, max_dense_qubits=_max_dense_qubits())
    outcome: ExecutionOutcome = adapter(device.provider).run_task(
        task, device, credentials or {}, config or ProviderConfig()
    )
    return outcome


def estimate_task(task: ExecutionTask) -> CostEstimate:
    _leave_signals_to_the_parent()
    device = find_device(task.device_id)
    if device.provider == "local":
        from qorch.adapters import aer

        return aer.estimate_task(task, max_dense_qubits=_max_dense_qubits())
    estimate: CostEstimate = adapter(device.provider).estimate_task(task, device)
    return estimate


def submit_task(
    task: ExecutionTask, credentials: dict[str, str], config: ProviderConfig
) -> ProviderJob:
    _leave_signals_to_the_parent()
    device = find_device(task.device_id)
    job: ProviderJob = adapter(device.provider).submit_task(task, device, credentials, config)
    return job


def poll_task(
    task: ExecutionTask, job: ProviderJob, credentials: dict[str, str], config: ProviderConfig
) -> ExecutionOutcome | None:
    _leave_signals_to_the_parent()
    device = find_device(task.device_id)
    outcome: ExecutionOutcome | None = adapter(device.provider).poll_task(
        task, device, job, credentials, config
    )
    return outcome


def cancel_task(
    device_id: str, job: ProviderJob, credentials: dict[str, str], config: ProviderConfig
) -> None:
    _leave_signals_to_the_parent()
    device = find_device(device_id)
    adapter(device.provider).cancel_task(device, job, credentials, config)


def live_status(
    provider: str, devices: list[Device], credentials: dict[str, str], config: ProviderConfig
) -> dict[str, dict[str, Any]]:
    # Asked from a thread of the API process (a quick read, not a job): signals stay as they are.
    status: dict[str, dict[str, Any]] = adapter(provider).live_status(devices, credentials, config)
    return status


def warm_up() -> None:
    _leave_signals_to_the_parent()
    from qorch.adapters import aer

    aer.warm_up()
