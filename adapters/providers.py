"""Routes a task to the provider adapter that owns its device; runs inside worker processes."""

from __future__ import annotations

import signal
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


@cache
def _leave_signals_to_the_parent() -> None:
    # A worker process lives and dies with its executor: SIGTERM or Ctrl-C sent to the whole
    # process group must not kill a simulation before the executor has released its job.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_task(task: ExecutionTask) -> ExecutionOutcome:
    _leave_signals_to_the_parent()
    return aer.run_task(task, max_dense_qubits=_max_dense_qubits())


def estimate_task(task: ExecutionTask) -> CostEstimate:
    _leave_signals_to_the_parent()
    return aer.estimate_task(task, max_dense_qubits=_max_dense_qubits())


def check_request(device: Device, run_type: str, options: dict[str, Any], mitigate: bool) -> None:
    aer.check_request(device, run_type, options, mitigate)


def warm_up() -> None:
    _leave_signals_to_the_parent()
    aer.warm_up()
