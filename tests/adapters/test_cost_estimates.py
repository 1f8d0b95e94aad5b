"""The estimator behind budgets: a provider's dry-run estimate, made in a parser process (bounded
in time and memory), once per distinct task however many submits ask for it at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from qorch.adapters.circuit_sandbox import ParserPool, SandboxConfig
from qorch.adapters.cost_estimates import Estimates
from qorch.adapters.providers import Registry
from qorch.domain.devices import Device
from qorch.domain.execution import CircuitTask, ExecutionTask, ProviderError
from tests.conftest import BELL_QASM2, GHZ3_QASM2


@pytest.fixture(scope="module")
def pool() -> Iterator[ParserPool]:
    pool = ParserPool(SandboxConfig(workers=2))
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(names=("braket",))


def forte(registry: Registry) -> Device:
    return next(device for device in registry.devices() if device.id == "braket_ionq_forte")


def task(shots: int, *sources: str, **options: Any) -> ExecutionTask:
    circuits = tuple(CircuitTask(source) for source in sources)
    return ExecutionTask("", "braket_ionq_forte", "Run", shots, circuits, **options)


class Counted:
    """The pool's call, counting the calls (each one a parse process's work)."""

    def __init__(self, pool: ParserPool) -> None:
        self.pool = pool
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, function: Any, *args: Any) -> Any:
        with self.lock:
            self.calls += 1
        return self.pool.call(function, *args)


def test_a_run_on_forte_costs_the_price_tables_task_and_shot_prices(pool, registry):
    estimate = Estimates(registry, pool.call)(forte(registry), task(10, GHZ3_QASM2))
    assert estimate.usd == pytest.approx(0.30 + 10 * 0.08)
    assert estimate.breakdown["price_key"] == "braket:ionq_forte"


def test_what_the_device_refuses_comes_back_as_its_provider_error(pool, registry):
    estimates = Estimates(registry, pool.call)
    with pytest.raises(ProviderError) as refused:
        estimates(forte(registry), task(10, BELL_QASM2, use_mitigation=True))
    assert refused.value.field == "use_mitigation" and "2500 shots" in refused.value.message


def test_concurrent_estimates_of_one_task_are_made_once(pool, registry):
    counted = Counted(pool)
    estimates = Estimates(registry, counted)
    device = forte(registry)

    with ThreadPoolExecutor(12) as threads:
        answers = list(threads.map(lambda _: estimates(device, task(123, BELL_QASM2)), range(12)))

    assert [answer.usd for answer in answers] == [pytest.approx(0.30 + 123 * 0.08)] * 12
    assert counted.calls == 1
    estimates(device, task(124, BELL_QASM2))
    assert counted.calls == 2


def test_an_estimate_past_the_parsers_time_bound_is_refused(registry):
    slow = ParserPool(SandboxConfig(workers=1, timeout=0.05))
    try:
        with pytest.raises(ProviderError) as refused:
            # The parser process imports the Braket SDK for its first estimate: well past 50 ms.
            Estimates(registry, slow.call)(forte(registry), task(10, BELL_QASM2))
    finally:
        slow.close()
    assert refused.value.code == "estimate_failed"
    assert "QORCH_PARSE_TIMEOUT_SECONDS" in refused.value.message
