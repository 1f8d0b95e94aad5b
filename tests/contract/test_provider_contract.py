"""Every provider keeps the same promises, checked the same way: one suite over the registry.

A provider is one package plus one registry line; `REGISTRY` below adds the test-only echo
provider with exactly that line, and every check here runs on it as on the real ones (the real
SDKs pointed at loopback fakes where a device is remote).
"""

from __future__ import annotations

import math
import pickle
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import pytest

from qorch.adapters.providers import PACKAGES, Registry
from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.devices import Device
from qorch.domain.execution import (
    CircuitTask,
    ExecutionOutcome,
    ExecutionTask,
    ObservableSpec,
    ProviderError,
)
from qorch.domain.ports import Provider
from tests.contract.echo.provider import SECRET_PREFIX
from tests.fakes.braket_api import FakeBraket
from tests.fakes.ibm_quantum import FakeIBMQuantum
from tests.fakes.ionq_api import FakeIonQ

PACKAGES_UNDER_TEST = {**PACKAGES, "echo": "tests.contract.echo"}

AWS_KEY_ID = "AKIAFAKEKEYID0000077"
AWS = {"aws_access_key_id": AWS_KEY_ID, "aws_secret_access_key": "aws-SECRET-contract-0077"}
IONQ_KEY = "ionq-SECRET-contract-0077"
ECHO = {"echo_token": SECRET_PREFIX + "0077"}
IBM = {"ibm_quantum_token": "Zq3_k9-" + "c" * 37, "ibm_quantum_instance": "crn:v1:contract::"}

FLIP_QUBIT_0 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
x q[0];
measure q -> c;
"""
ROTATE_QUBIT_0 = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[2] q;
bit[2] c;
ry(theta) q[0];
c = measure q;
"""
Fakes = Callable[[], AbstractContextManager[ProviderConfig]]


@contextmanager
def braket_api() -> Iterator[ProviderConfig]:
    with FakeBraket(accepted_keys={AWS_KEY_ID}) as fake:
        yield ProviderConfig(braket_endpoint_url=fake.url, braket_s3_bucket="qorch-results")


@contextmanager
def ibm_platform() -> Iterator[ProviderConfig]:
    """IBM's runtime service is simulated in-process (tests/fakes/ibm_quantum.py)."""
    from qorch.adapters.providers.ibm import service

    platform = FakeIBMQuantum(pending_polls=1)

    def connect(token: str, instance: str | None, url: str | None) -> FakeIBMQuantum:
        assert token == IBM["ibm_quantum_token"]
        return platform

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service, "connect", connect)
        service.SERVICES.clear()
        yield ProviderConfig()
        service.SERVICES.clear()


@contextmanager
def ionq_api() -> Iterator[ProviderConfig]:
    with FakeIonQ(IONQ_KEY) as fake:
        yield ProviderConfig(ionq_api_url=fake.url)


@dataclass(frozen=True)
class Case:
    provider: str
    device_id: str
    credentials: dict[str, str] = field(default_factory=dict)
    fakes: Fakes = lambda: nullcontext(ProviderConfig())
    tolerance: float = 0.2
    """Noisy devices and shot noise: how far a probability or expectation value may stray."""

    def __str__(self) -> str:
        return self.device_id


CASES = [
    Case("local", "aer_simulator"),
    Case("local", "fake_manila", tolerance=0.3),
    Case("ibm", "runtime_fake_manila", tolerance=0.3),
    Case("ibm", "ibm_brisbane", IBM, ibm_platform, tolerance=0.3),
    Case("braket", "braket_sv"),
    Case("braket", "braket_sv1", AWS, braket_api),
    Case("ionq", "ionq_simulator", {"ionq_api_key": IONQ_KEY}, ionq_api),
    Case("echo", "echo_local"),
    Case("echo", "echo_remote", ECHO),
]
REMOTE_CASES = [case for case in CASES if case.credentials]


@dataclass
class Subject:
    provider: Provider
    device: Device
    case: Case

    def outcome(
        self, *circuits: CircuitTask, shots: int = 2000, token: str = ""
    ) -> ExecutionOutcome:
        """What the device answers for the task: run inline, or submitted then polled."""
        task = ExecutionTask(
            job_id="contract",
            device_id=self.device.id,
            run_type="Run",
            shots=shots,
            circuits=circuits,
            client_token=f"contract-{time.monotonic_ns()}",
        )
        if not self.device.remote:
            return self.provider.run(task, self.device, {})
        job = self.provider.submit(task, self.device, self.case.credentials)
        for _ in range(200):
            outcome = self.provider.poll(task, self.device, job, self.case.credentials)
            if outcome is not None:
                return outcome
            time.sleep(0.05)
        raise AssertionError(f"{self.device.id}: no outcome after 200 polls")


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"a provider tried to reach {address!r}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@contextmanager
def opened(case: Case) -> Iterator[Subject]:
    with case.fakes() as config:
        provider = Registry(config, packages=PACKAGES_UNDER_TEST).provider(case.provider)
        device = next(d for d in provider.devices() if d.id == case.device_id)
        yield Subject(provider, device, case)


@pytest.fixture(params=CASES, ids=str)
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    with opened(request.param) as subject:
        yield subject


@pytest.fixture(params=REMOTE_CASES, ids=str)
def remote(request: pytest.FixtureRequest) -> Iterator[Subject]:
    with opened(request.param) as subject:
        yield subject


# --- the catalogue ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PACKAGES_UNDER_TEST))
def test_the_catalogue_is_listed_without_the_network(name: str, monkeypatch: pytest.MonkeyPatch):
    def no_network(self: socket.socket, address: Any) -> Any:
        raise OSError(f"listing devices reached {address!r}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    registry = Registry(packages=PACKAGES_UNDER_TEST)
    provider = registry.provider(name)

    devices = provider.devices()

    assert devices and provider.name == name
    assert len({d.id for d in devices}) == len(devices)
    for device in devices:
        assert device.provider == name and device.qubits > 0
        assert not device.remote or device.credentials, f"{device.id} runs remotely without keys"
    assert pickle.loads(pickle.dumps(provider)).devices() == devices  # workers get a copy


def test_every_listed_device_belongs_to_one_registered_provider():
    registry = Registry(packages=PACKAGES_UNDER_TEST)
    ids = [device.id for device in registry.devices()]
    assert len(ids) == len(set(ids))
    assert {d.provider for d in registry.devices()} == set(PACKAGES_UNDER_TEST)


# --- checking a request before it is recorded ---------------------------------------------------


def test_an_option_the_device_does_not_take_is_refused_naming_it(subject: Subject):
    with pytest.raises(ProviderError) as refused:
        subject.provider.check_request(subject.device, "Run", {"no_such_option": 1}, False)
    assert refused.value.field == "options.no_such_option"


def test_a_plain_run_is_accepted(subject: Subject):
    subject.provider.check_request(subject.device, "Run", {}, False)


# --- a dry run ----------------------------------------------------------------------------------


def test_a_dry_run_prices_every_circuit_without_the_provider(subject: Subject):
    task = ExecutionTask(
        "contract",
        subject.device.id,
        "Run",
        100,
        (CircuitTask(FLIP_QUBIT_0), CircuitTask(ROTATE_QUBIT_0, ((0.5,),))),
    )
    estimate = subject.provider.estimate(task, subject.device)
    assert len(estimate.circuits) == 2
    assert all(shape["qubits"] >= 2 for shape in estimate.circuits)
    assert estimate.seconds >= 0 and estimate.usd >= 0


# --- results, in Qiskit's conventions -----------------------------------------------------------


def test_bit_order_is_qiskits_classical_bit_0_rightmost(subject: Subject):
    (circuit,) = subject.outcome(CircuitTask(FLIP_QUBIT_0), shots=1000).circuits
    assert circuit.counts is not None and len(circuit.counts) == 1
    (counts,) = circuit.counts
    assert sum(counts.values()) == 1000
    assert counts.get("01", 0) / 1000 >= 1 - subject.case.tolerance, counts
    assert circuit.distributions is not None
    assert math.isclose(sum(circuit.distributions[0].values()), 1.0, abs_tol=1e-6)


def test_parameter_sets_bind_in_order_and_nest_last(subject: Subject):
    sets = ((0.0,), (math.pi,))
    (circuit,) = subject.outcome(CircuitTask(ROTATE_QUBIT_0, sets), shots=1000).circuits
    assert circuit.counts is not None and len(circuit.counts) == 2
    low = 1 - subject.case.tolerance
    assert circuit.counts[0].get("00", 0) / 1000 >= low, circuit.counts[0]
    assert circuit.counts[1].get("01", 0) / 1000 >= low, circuit.counts[1]


def test_expectation_values_nest_observable_then_parameter_set(subject: Subject):
    observables = (ObservableSpec(("IZ",), (1.0,)), ObservableSpec(("ZI",), (1.0,)))
    sets = ((0.0,), (math.pi,))
    task = CircuitTask(ROTATE_QUBIT_0, sets, observables)
    (circuit,) = subject.outcome(task, shots=4000).circuits
    assert circuit.expectation_values is not None and circuit.standard_errors is not None
    qubit_0, qubit_1 = circuit.expectation_values  # Pauli labels: rightmost letter is qubit 0
    assert len(qubit_0) == len(qubit_1) == 2
    scale = 2 * subject.case.tolerance
    assert qubit_0[0] == pytest.approx(1.0, abs=scale)
    assert qubit_0[1] == pytest.approx(-1.0, abs=scale)
    assert qubit_1 == pytest.approx([1.0, 1.0], abs=scale)


# --- remote devices -----------------------------------------------------------------------------


def test_a_repeated_submit_answers_the_same_provider_job(remote: Subject):
    task = ExecutionTask(
        "contract", remote.device.id, "Run", 100, (CircuitTask(FLIP_QUBIT_0),), client_token="t-1"
    )
    first = remote.provider.submit(task, remote.device, remote.case.credentials)
    again = remote.provider.submit(task, remote.device, remote.case.credentials)
    assert again.ids == first.ids and first.provider == remote.provider.name
    assert pickle.loads(pickle.dumps(first)) == first


def test_refused_credentials_are_named_and_never_echoed(remote: Subject):
    wrong = {name: "wrong-SECRET-" + name for name in remote.case.credentials}
    task = ExecutionTask(
        "contract", remote.device.id, "Run", 100, (CircuitTask(FLIP_QUBIT_0),), client_token="t-2"
    )
    with pytest.raises(ProviderError) as refused:
        remote.provider.submit(task, remote.device, wrong)
    assert refused.value.code == "invalid_credentials"
    assert not refused.value.retryable
    assert all(secret not in refused.value.message for secret in wrong.values())
