"""A Qiskit user swaps StatevectorEstimator for qorch's Estimator: observables of several Paulis,
broadcast against parameter sets, give `evs`/`stds` of the same shapes, within 5σ of the exact
values; precision 0 is exact where the device can be; all PUBs of a run are one qorch job."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp

from qorch.client import Client, QorchError
from qorch.client.qiskit import Estimator
from tests.client.conftest import Qorch

OBSERVABLES = [
    SparsePauliOp(["ZZI", "IXX", "YIY"], [0.5, -0.3, 0.2]),
    SparsePauliOp(["ZII", "IIZ"], [1.0, 1.0]),
    SparsePauliOp(["XXX"], [1.0]),
]


SIGMAS = 5


@pytest.fixture(scope="module")
def client(qorch: Qorch) -> Iterator[Client]:
    with Client(qorch.url, qorch.new_key()) as client:
        yield client


def ansatz() -> QuantumCircuit:
    """Six parameters on three qubits, no measurements."""
    theta = ParameterVector("θ", 6)
    circuit = QuantumCircuit(3)
    for qubit in range(3):
        circuit.ry(theta[qubit], qubit)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    for qubit in range(3):
        circuit.rx(theta[3 + qubit], qubit)
    return circuit


def bell(measured: bool = False) -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    if measured:
        circuit.measure_all()
    return circuit


def exact(pubs: list) -> list[np.ndarray]:
    return [pub.data.evs for pub in StatevectorEstimator().run(pubs).result()]


def values(*shape: int) -> np.ndarray:
    return np.random.default_rng(11).uniform(-np.pi, np.pi, size=(*shape, 6))


def assert_within_sigmas(data, expected: np.ndarray, precision: float) -> None:
    assert data.evs.shape == data.stds.shape == expected.shape
    assert np.all(data.stds > 0) and np.all(data.stds <= precision)
    assert np.all(np.abs(data.evs - expected) <= SIGMAS * data.stds), (data.evs, expected)


def test_observables_broadcast_against_parameter_sets_agree_within_5_sigma(client: Client):
    pub = (ansatz(), [[op] for op in OBSERVABLES], values(4))

    job = Estimator(client=client).run([pub], precision=0.02)
    result = job.result()

    assert_within_sigmas(result[0].data, exact([pub])[0], 0.02)
    assert result[0].data.evs.shape == (3, 4)
    assert result[0].metadata["shots"] == 2500
    assert len(job.qorch_job["circuit_ids"]) == 1  # every observable on every set: one circuit


def test_observables_paired_with_parameter_sets_element_wise(client: Client):
    observables = [OBSERVABLES[i % 3] * (1 + i) for i in range(4)]
    pub = (ansatz(), observables, values(4))

    job = Estimator(client=client).run([pub], precision=0.02)

    assert_within_sigmas(job.result()[0].data, exact([pub])[0], 0.02)
    assert len(job.qorch_job["circuit_ids"]) == 4


def test_many_element_wise_pairs_run_as_one_circuit_of_every_combination(client: Client):
    observables = [OBSERVABLES[i % 3] * (1 + i / 10) for i in range(20)]
    pub = (ansatz(), observables, values(20))

    job = Estimator(client=client).run([pub], precision=0.05)

    assert_within_sigmas(job.result()[0].data, exact([pub])[0], 0.05)
    assert len(job.qorch_job["circuit_ids"]) == 1


def test_pubs_with_and_without_parameters_and_measurements_share_one_job(client: Client):
    pubs = [
        (bell(measured=True), ["ZZ", "XX", "ZI"]),
        (ansatz(), OBSERVABLES[0], values(2, 1), 0.05),
        (bell(), SparsePauliOp(["YY", "ZZ"], [0.5, 0.5])),
    ]

    job = Estimator(client=client).run(pubs, precision=0.03)
    result = job.result()

    unmeasured = [(bell(), pubs[0][1]), *pubs[1:]]  # Qiskit's own estimator refuses measurements
    for pub, expected, precision in zip(result, exact(unmeasured), [0.03, 0.05, 0.03], strict=True):
        assert_within_sigmas(pub.data, expected, 0.03)
        assert pub.metadata["target_precision"] == precision
    assert result[0].data.evs.shape == (3,) and result[1].data.evs.shape == (2, 1)
    assert result.metadata["job_id"] == job.job_id()
    assert job.qorch_job["shots"] == 1112  # the finest precision: ceil(1 / 0.03²)


def test_precision_zero_is_exact_on_an_ideal_simulator(client: Client):
    pub = (ansatz(), [[op] for op in OBSERVABLES], values(2))

    result = Estimator(client=client, default_precision=0.0).run([pub]).result()

    np.testing.assert_allclose(result[0].data.evs, exact([pub])[0], atol=1e-9)
    assert np.all(result[0].data.stds == 0)
    assert result.metadata["run_type"] == "StatevectorRun"


def test_the_default_precision_is_qiskits_backend_estimators(client: Client):
    result = Estimator(client=client).run([(bell(), "ZZ")]).result()

    assert result[0].metadata["shots"] == 4096
    assert abs(result[0].data.evs - 1) <= SIGMAS / 64


def test_a_noisy_fake_device_runs_the_same_code(client: Client):
    estimator = Estimator("fake_nairobi", client=client)

    result = estimator.run([(bell(), ["ZZ", "XX", "ZI"])], precision=0.05).result()

    zz, xx, zi = result[0].data.evs
    assert zz > 0.7 and xx > 0.7 and abs(zi) < 0.3
    assert result.metadata["device"] == "fake_nairobi"


def test_exact_values_on_a_device_that_cannot_give_them_are_refused(client: Client):
    estimator = Estimator("fake_nairobi", client=client)

    with pytest.raises(QorchError) as refused:
        estimator.run([(bell(), "ZZ")], precision=0.0)

    assert refused.value.status == 422 and refused.value.field == "device_id"
