"""IonQ's answers (integers, qubit 0 least significant) become the same multi-register
bitstrings as every other provider's: first-declared register rightmost, no spaces
(tests/http/test_register_bitstrings.py shows them on the other devices)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ionq import build
from qorch.domain.execution import CircuitTask, ExecutionTask
from tests.fakes.ionq_api import FakeIonQ
from tests.http.test_register_bitstrings import A_THEN_B_QASM2, A_THEN_B_QASM3, B_THEN_A

KEY = "ionq-key-for-registers"


@pytest.fixture
def ionq_api() -> Iterator[FakeIonQ]:
    with FakeIonQ(KEY) as fake:
        yield fake


def test_ionq_bitstrings_put_the_first_register_rightmost(ionq_api: FakeIonQ):
    provider = build(ProviderConfig(ionq_api_url=ionq_api.url))
    device = next(d for d in provider.devices() if d.id == "ionq_simulator")
    sources = (A_THEN_B_QASM2, A_THEN_B_QASM3, B_THEN_A)
    task = ExecutionTask(
        "job-registers", device.id, "Run", 100, tuple(map(CircuitTask, sources)),
        client_token="job-registers",
    )  # fmt: skip
    credentials = {"ionq_api_key": KEY}

    job = provider.submit(task, device, credentials)
    outcome = None
    for _ in range(200):
        outcome = provider.poll(task, device, job, credentials)
        if outcome is not None:
            break
        time.sleep(0.02)

    assert outcome is not None
    assert [c.counts for c in outcome.circuits] == [
        [{"11001": 100}],
        [{"11001": 100}],
        [{"01110": 100}],
    ]
