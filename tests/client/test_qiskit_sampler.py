"""A Qiskit user swaps StatevectorSampler for qorch's Sampler: the same PUBs give BitArrays of
the same shapes, one per classical register, whose frequencies agree within 5σ; all PUBs of a
run are one qorch job; a job that fails raises from `result()`."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Clbit, ParameterVector
from qiskit.primitives import BitArray, StatevectorSampler
from qiskit.providers import JobStatus

from qorch.client import Client, QorchError
from qorch.client.qiskit import JobFailed, Sampler
from tests.client.conftest import HELD_DEVICE, SLOW_DEVICE, Qorch

SIGMAS = 5


@pytest.fixture(scope="module")
def key(qorch: Qorch) -> str:
    return qorch.new_key()


@pytest.fixture(scope="module")
def client(qorch: Qorch, key: str) -> Iterator[Client]:
    with Client(qorch.url, key) as client:
        yield client


def assert_same_distribution(ours: BitArray, reference: BitArray) -> None:
    """At every position of the two (equally shaped) bit arrays, each outcome's frequency agrees
    within SIGMAS standard errors of the difference of two binomial estimates."""
    assert ours.shape == reference.shape
    assert (ours.num_bits, ours.num_shots) == (reference.num_bits, reference.num_shots)
    n, m = ours.num_shots, reference.num_shots
    for position in np.ndindex(*ours.shape):
        a, b = ours.get_counts(position), reference.get_counts(position)
        for outcome in set(a) | set(b):
            pooled = (a.get(outcome, 0) + b.get(outcome, 0)) / (n + m)
            sigma = max(np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m)), 1 / min(n, m))
            difference = a.get(outcome, 0) / n - b.get(outcome, 0) / m
            assert abs(difference) <= SIGMAS * sigma, (position, outcome, a, b)


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def ansatz(qubits: int = 4, layers: int = 3) -> QuantumCircuit:
    """12 parameters: θ[10] and θ[11] bind after θ[9] (Qiskit's order), not after θ[1]."""
    theta = ParameterVector("θ", qubits * layers)
    circuit = QuantumCircuit(qubits)
    for layer in range(layers):
        for qubit in range(qubits):
            circuit.ry(theta[layer * qubits + qubit], qubit)
        for qubit in range(qubits - 1):
            circuit.cx(qubit, qubit + 1)
    circuit.measure_all()
    return circuit


def two_registers() -> QuantumCircuit:
    """a[0] and b[2] hold the two halves of a Bell pair; b[0] is always 1, a[1] and b[1] 0."""
    q = QuantumRegister(4, "q")
    a, b = ClassicalRegister(2, "a"), ClassicalRegister(3, "b")
    circuit = QuantumCircuit(q, a, b)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.x(2)
    circuit.measure(0, a[0])
    circuit.measure(3, a[1])
    circuit.measure(2, b[0])
    circuit.measure(3, b[1])
    circuit.measure(1, b[2])
    return circuit


def test_a_bell_pair_samples_like_the_statevector_sampler(client: Client):
    job = Sampler(client=client).run([bell()], shots=2000)

    result = job.result()
    reference = StatevectorSampler().run([bell()], shots=2000).result()

    meas = result[0].data.meas
    assert set(meas.get_counts()) == {"00", "11"}
    assert_same_distribution(meas, reference[0].data.meas)
    assert result[0].metadata["shots"] == 2000
    assert result.metadata["job_id"] == job.job_id()
    assert job.status() is JobStatus.DONE and job.done() and job.in_final_state()
    assert not job.running() and not job.cancelled()
    assert not job.cancel()  # it had ended


def test_a_broadcast_ansatz_keeps_its_shape_and_binds_parameters_in_qiskits_order(client: Client):
    circuit = ansatz()
    values = np.random.default_rng(7).uniform(0, np.pi, size=(3, 2, circuit.num_parameters))

    result = Sampler(client=client).run([(circuit, values)], shots=1000).result()
    reference = StatevectorSampler().run([(circuit, values)], shots=1000).result()

    assert result[0].data.meas.shape == reference[0].data.meas.shape == (3, 2)
    assert_same_distribution(result[0].data.meas, reference[0].data.meas)


def test_each_classical_register_is_its_own_bit_array_and_shots_stay_together(client: Client):
    circuit = two_registers()

    result = Sampler(client=client).run([circuit], shots=500).result()
    reference = StatevectorSampler().run([circuit], shots=500).result()

    data = result[0].data
    assert sorted(data) == ["a", "b"]
    assert (data.a.num_bits, data.b.num_bits) == (2, 3)
    assert data.a.shape == data.b.shape == ()
    for register in ("a", "b"):
        assert_same_distribution(data[register], reference[0].data[register])
    a, b = data.a.get_bitstrings(), data.b.get_bitstrings()
    assert all(x[1] == y[0] for x, y in zip(a, b, strict=True))  # a[0] == b[2], shot by shot
    assert set(b) <= {"001", "101"} and set(a) <= {"00", "01"}
    assert {"001", "101"} == set(b)


def test_several_pubs_run_as_one_job_with_each_pubs_shots(client: Client):
    circuit = ansatz(2, 1)
    sampler = Sampler(client=client, default_shots=300)

    job = sampler.run([bell(), (circuit, [[0.0, np.pi], [np.pi, 0.0]], 100), two_registers()])
    result = job.result()

    assert [pub.data.shape for pub in [result[0], result[1], result[2]]] == [(), (2,), ()]
    assert [result[0].data.meas.num_shots, result[1].data.meas.num_shots] == [300, 100]
    assert result[1].data.meas.get_counts(0) == {"10": 100}
    assert result[1].data.meas.get_counts(1) == {"11": 100}
    assert len(job.qorch_job["circuit_ids"]) == 3
    assert job.qorch_job["shots"] == 300


def test_a_noisy_fake_device_runs_the_same_code(client: Client):
    result = Sampler("fake_nairobi", client=client).run([bell()], shots=1000).result()

    counts = result[0].data.meas.get_counts()
    assert sum(counts.values()) == 1000
    assert counts.get("00", 0) + counts.get("11", 0) > 800
    assert result.metadata["device"] == "fake_nairobi"


def test_with_no_client_the_sampler_uses_the_cli_variables(
    qorch: Qorch, key: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("QORCH_URL", qorch.url)
    monkeypatch.setenv("QORCH_API_KEY", key)

    result = Sampler(device="aer_simulator").run([bell()], shots=50).result()

    assert result[0].data.meas.num_shots == 50


def never_ending() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    with circuit.while_loop((circuit.clbits[0], 1)):
        circuit.x(0)
        circuit.x(0)
        circuit.measure(0, 0)
    return circuit


def test_a_job_that_fails_raises_the_servers_error_from_result(client: Client):
    job = Sampler(SLOW_DEVICE, client=client).run([never_ending()], shots=10)

    with pytest.raises(JobFailed) as failed:
        job.result(timeout=60)

    assert failed.value.code == "time_limit"
    assert job.status() is JobStatus.ERROR and job.in_final_state() and not job.done()


def test_a_cancelled_job_is_cancelled_and_has_no_result(client: Client):
    job = Sampler(HELD_DEVICE, client=client).run([never_ending()], shots=10)

    assert job.cancel()

    assert job.cancelled() and job.status() is JobStatus.CANCELLED
    with pytest.raises(JobFailed, match="cancelled"):
        job.result()


def test_bad_input_is_refused_before_anything_runs(client: Client):
    sampler = Sampler(client=client)
    unmeasured = QuantumCircuit(2)
    unmeasured.h(0)

    loose = QuantumCircuit(QuantumRegister(1), [Clbit()])
    loose.measure(0, 0)

    with pytest.raises(ValueError, match=r"pubs\[1\].*no classical registers"):
        sampler.run([bell(), unmeasured])
    with pytest.raises(ValueError, match=r"pubs\[0\].*exactly one classical register"):
        sampler.run([loose])
    with pytest.raises(QorchError) as refused:
        Sampler("no_such_device", client=client).run([bell()])
    assert refused.value.field == "device_id"
