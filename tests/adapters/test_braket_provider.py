"""Amazon Braket behind the Provider port: what the registry builds, what a worker process
receives, and single attempts (the executor's policy is the only one that retries)."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys

import pytest

from qorch.adapters.providers import Registry
from qorch.adapters.providers.braket.provider import BraketProvider
from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.execution import ProviderError
from qorch.domain.ports import Provider
from tests.adapters import test_braket as stories
from tests.adapters.test_braket import CREDENTIALS, DEVICES, bell_task
from tests.fakes.braket_api import FakeBraket

fake, config, braket = stories.fake, stories.config, stories.braket  # the same fixtures


def test_the_registry_builds_a_braket_provider_that_has_every_method_of_the_port():
    built = Registry(ProviderConfig(), names=("braket",)).provider("braket")
    assert isinstance(built, BraketProvider) and built.name == "braket"
    for name, member in vars(Provider).items():
        if inspect.isfunction(member) and not name.startswith("_"):
            ours = inspect.signature(getattr(built, name))
            port = inspect.signature(member.__get__(built))
            assert list(ours.parameters) == list(port.parameters), name


def test_the_provider_travels_to_a_worker_process_as_its_settings():
    provider = BraketProvider(ProviderConfig(braket_endpoint_url="http://127.0.0.1:1"))
    assert pickle.loads(pickle.dumps(provider)) == provider


def test_listing_braket_devices_imports_neither_the_sdk_nor_qiskit():
    script = (
        "import sys; from qorch.adapters.providers import Registry; "
        "assert len(Registry(names=('braket',)).devices()) == 8; "
        "print(sorted(m for m in ('braket', 'boto3', 'botocore', 'qiskit') if m in sys.modules))"
    )
    answer = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert answer.stdout.strip() == "[]"


def test_a_lost_create_answer_is_one_attempt_the_executor_may_repeat(
    fake: FakeBraket, braket: BraketProvider
):
    fake.fail_next_creates(1)
    with pytest.raises(ProviderError) as raised:
        braket.submit(bell_task("braket_ionq_forte"), DEVICES["braket_ionq_forte"], CREDENTIALS)
    assert raised.value.code == "provider_unavailable" and raised.value.retryable
    assert fake.creates == 1  # botocore did not try again: only the executor does
    job = braket.submit(bell_task("braket_ionq_forte"), DEVICES["braket_ionq_forte"], CREDENTIALS)
    assert fake.task_count == 1 and job.ids == (fake.tasks[0].arn,)


def test_a_throttled_status_call_is_made_once(fake: FakeBraket, braket: BraketProvider):
    fake.fail_next(5, status=429, code="ThrottlingException", operation="GetDevice")
    with pytest.raises(ProviderError) as raised:
        braket.live_status([DEVICES["braket_ionq_forte"]], CREDENTIALS)
    assert raised.value.code == "rate_limited"
    assert len(fake.calls("GetDevice")) == 1
