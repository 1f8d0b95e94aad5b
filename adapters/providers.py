"""Routes a task to the provider adapter that owns its device; runs inside worker processes."""

from __future__ import annotations

from functools import cache
from typing import Any

from qorch.adapters import aer
from qorch.domain.devices import Device
from qorch.domain.execution import CostEstimate, ExecutionOutcome, ExecutionTask
from qorch.settings import settings_from_env


@cache
def _max_dense_qubits() -> int:
    # Worker processes inherit the server's environment, so they see the same catalogue caps.
    return settings_from_env().max_dense_qubits


def run_task(task: ExecutionTask) -> ExecutionOutcome:
    return aer.run_task(task, max_dense_qubits=_max_dense_qubits())


def estimate_task(task: ExecutionTask) -> CostEstimate:
    return aer.estimate_task(task, max_dense_qubits=_max_dense_qubits())


def check_request(device: Device, run_type: str, options: dict[str, Any], mitigate: bool) -> None:
    aer.check_request(device, run_type, options, mitigate)


def warm_up() -> None:
    aer.warm_up()
