"""Partly: a provider that lives only in the tests, whose remote device runs circuits as the echo
provider does (Qiskit's reference primitives) and then fails the executions a job names in its
`fail_executions` option — flat indexes over (circuit, parameter set), in order — the way a
provider whose tasks partly fail answers: placeholders in place, an error per failed set.

Registered like any provider: a package name in `PACKAGES` (see tests/http/test_partial_results).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.devices import Device
from qorch.domain.execution import (
    CircuitOutcome,
    ExecutionOutcome,
    ExecutionTask,
    ProviderError,
    ProviderJob,
)
from tests.contract.echo.provider import TOKEN, EchoProvider

NAME = "partly"
FAIL = "fail_executions"
DEVICE = Device(
    id="partly_remote",
    provider=NAME,
    vendor="qorch tests",
    name="Partly failing (remote)",
    qubits=8,
    simulator=True,
    remote=True,
    credentials=(TOKEN,),
    price_key=None,
)


def build(config: ProviderConfig) -> PartlyFailingProvider:
    return PartlyFailingProvider(config)


@dataclass(frozen=True)
class PartlyFailingProvider(EchoProvider):
    name: str = NAME

    def devices(self) -> list[Device]:
        return [DEVICE]

    def check_request(
        self, device: Device, run_type: str, options: dict[str, Any], mitigate: bool
    ) -> None:
        failing = options.get(FAIL, [])
        if not isinstance(failing, list) or not all(isinstance(i, int) for i in failing):
            raise ProviderError(
                "invalid_option", "must be a list of integers", field=f"options.{FAIL}"
            )
        others = {key: value for key, value in options.items() if key != FAIL}
        super().check_request(device, run_type, others, mitigate)

    def poll(
        self, task: ExecutionTask, device: Device, job: ProviderJob, credentials: dict[str, str]
    ) -> ExecutionOutcome | None:
        outcome = super().poll(task, device, job, credentials)
        if outcome is None:
            return None
        failing = set(task.options.get(FAIL, []))
        first = 0
        for circuit in outcome.circuits:
            sets = _sets_of(circuit)
            failed = [first + p in failing for p in range(sets)]
            first += sets
            if any(failed):
                _fail(circuit, failed)
        return outcome


def _sets_of(circuit: CircuitOutcome) -> int:
    if circuit.distributions is not None:
        return len(circuit.distributions)
    return len((circuit.expectation_values or [[]])[0])


def _fail(circuit: CircuitOutcome, failed: list[bool]) -> None:
    """The placeholders of the contract (`CircuitOutcome.errors`): {} and nan."""
    for p, lost in enumerate(failed):
        if not lost:
            continue
        if circuit.distributions is not None and circuit.counts is not None:
            circuit.distributions[p], circuit.counts[p] = {}, {}
        for row in (circuit.expectation_values or []) + (circuit.standard_errors or []):
            row[p] = math.nan
    circuit.errors = [
        {"code": "provider_failed", "message": f"task for parameter set {p} FAILED: lost"}
        if lost
        else None
        for p, lost in enumerate(failed)
    ]
