"""Amazon Braket through qorch's adapter: the local simulators offline, and the managed devices
through the real Braket SDK (AwsDevice / AwsQuantumTask over boto3) against a loopback fake of
the Braket REST API and S3 (tests/fakes/braket_api.py), which really simulates what it receives.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import anyio
import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import SparsePauliOp, Statevector

from qorch.adapters.executor.calls import ProviderCalls
from qorch.adapters.providers.braket.catalogue import QISKIT_TO_BRAKET
from qorch.adapters.providers.braket.provider import BraketProvider
from qorch.adapters.providers.braket.session import session
from qorch.adapters.providers.braket.tokens import client_token
from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.devices import Device
from qorch.domain.execution import (
    CircuitTask,
    ExecutionOutcome,
    ExecutionTask,
    ObservableSpec,
    ProviderError,
    ProviderJob,
)
from tests.conftest import BELL_QASM2 as BELL
from tests.fakes.braket_api import FORTE, GARNET, SV1, FakeBraket

KEY_ID = "AKIDQORCHTEST0000001"
SECRET = "wJalrXUtnFEMI/K7MDENG/never-shown-anywhere"
CREDENTIALS = {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET}

LOCAL = BraketProvider()
"""The provider as a worker process has it with no AWS configured: the local simulators."""
DEVICES = {device.id: device for device in LOCAL.devices()}


@pytest.fixture
def fake() -> Iterator[FakeBraket]:
    with FakeBraket(accepted_keys={KEY_ID}) as server:
        yield server


@pytest.fixture
def config(fake: FakeBraket) -> ProviderConfig:
    return ProviderConfig(
        braket_endpoint_url=fake.url, braket_s3_bucket="qorch-results", call_timeout=20.0
    )


@pytest.fixture
def braket(config: ProviderConfig) -> BraketProvider:
    """The provider as the registry builds it, its AWS endpoint the fake."""
    return BraketProvider(config)


def submitted_by_the_executor(
    braket: BraketProvider, task: ExecutionTask, credentials: dict[str, str]
) -> ProviderJob:
    """A submit as the executor makes it: single attempts, retried by its one policy (here 3
    attempts in all, with short pauses, inline instead of in a worker process)."""

    async def inline(function: Any, *args: Any) -> Any:
        return function(*args)

    policy = replace(braket.config, max_retries=2, retry_base_delay=0.01)
    calls = ProviderCalls(inline, policy)
    job: ProviderJob = anyio.run(calls, braket.submit, task, DEVICES[task.device_id], credentials)
    return job


def bell_task(device_id: str, shots: int = 1000, job_id: str = "job-bell-1") -> ExecutionTask:
    return ExecutionTask(
        job_id=job_id,
        device_id=device_id,
        run_type="Run",
        shots=shots,
        circuits=(CircuitTask(source=BELL),),
        client_token=job_id,
    )


def poll_until_done(
    task: ExecutionTask, job: ProviderJob, braket: BraketProvider, attempts: int = 10
) -> ExecutionOutcome:
    device = DEVICES[task.device_id]
    for _ in range(attempts):
        outcome = braket.poll(task, device, job, CREDENTIALS)
        if outcome is not None:
            return outcome
    raise AssertionError(f"job not done after {attempts} polls")


def assert_bell(counts: dict[str, int], shots: int) -> None:
    assert set(counts) <= {"00", "11"}, counts
    assert sum(counts.values()) == shots
    # Binomial(shots, 1/2): within 5 sigma of half.
    assert abs(counts.get("00", 0) - shots / 2) <= 5 * math.sqrt(shots / 4)


# --- 1. local simulators, offline -----------------------------------------------------------------


@pytest.mark.parametrize("device_id", ["braket_sv", "braket_dm"])
def test_a_bell_pair_runs_offline_on_the_local_braket_simulators(device_id: str):
    device = DEVICES[device_id]
    assert not device.remote and device.credentials == () and device.price_key is None

    outcome = LOCAL.run(bell_task(device_id), device, {})

    (circuit,) = outcome.circuits
    assert circuit.counts is not None and circuit.distributions is not None
    assert_bell(circuit.counts[0], 1000)
    assert sum(circuit.distributions[0].values()) == pytest.approx(1.0)
    assert circuit.transpiled == {"qubits": 2, "depth": 3, "gates_1q": 1, "gates_2q": 1}
    assert outcome.metadata["device"] == device_id and outcome.metadata["shots"] == 1000


def test_classical_bits_come_back_in_qiskit_order_from_braket():
    # X on qubit 0 only, measured into clbit 1; qubit 2 (never flipped) into clbit 0.
    source = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[2];
x q[0];
measure q[0] -> c[1];
measure q[2] -> c[0];
"""
    task = ExecutionTask("job-bits", "braket_sv", "Run", 20, (CircuitTask(source=source),))
    outcome = LOCAL.run(task, DEVICES["braket_sv"], {})
    assert outcome.circuits[0].counts == [{"10": 20}]


def test_an_exact_statevector_on_braket_sv_is_in_qiskit_order():
    source = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\nx q[0];\nh q[2];\n'
    task = ExecutionTask("job-sv", "braket_sv", "StatevectorRun", 0, (CircuitTask(source),))
    outcome = LOCAL.run(task, DEVICES["braket_sv"], {})
    (circuit,) = outcome.circuits
    assert circuit.probabilities == [{"001": pytest.approx(0.5), "101": pytest.approx(0.5)}]
    assert circuit.statevectors is not None
    re, im = circuit.statevectors[0]
    assert np.allclose(re, [0, 1 / math.sqrt(2), 0, 0, 0, 1 / math.sqrt(2), 0, 0])
    assert np.allclose(im, 0)


def test_parameters_bind_by_position_whatever_they_are_called():
    # circuit.parameters is sorted by name: p_0, p_1, θ. Names that clash with the inputs the
    # adapter declares (p_<k>) or are not plain ASCII must still bind by position.
    source = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] p_1;
input float[64] p_0;
input float[64] θ;
qubit[3] q;
bit[3] c;
rx(p_1) q[0];
rx(p_0) q[1];
rx(θ) q[2];
c = measure q;
"""
    values = ((0.0, math.pi, math.pi),)  # p_0 = 0, p_1 = pi, θ = pi
    task = ExecutionTask("job-names", "braket_sv", "Run", 10, (CircuitTask(source, values),))
    outcome = LOCAL.run(task, DEVICES["braket_sv"], {})
    assert outcome.circuits[0].counts == [{"101": 10}]


# --- 2. the real SDK path against the fake --------------------------------------------------------


def test_a_bell_pair_goes_through_the_real_braket_sdk_and_comes_back(
    fake: FakeBraket, braket: BraketProvider
):
    task = bell_task("braket_sv1", job_id="job-sv1-bell")
    device = DEVICES["braket_sv1"]

    job = braket.submit(task, device, CREDENTIALS)

    assert job.provider == "braket"
    assert job.ids == tuple(t.arn for t in fake.tasks)
    (create,) = fake.calls("CreateQuantumTask")
    assert create.client_token == task.client_token == "job-sv1-bell"
    assert create.body is not None and create.body["deviceArn"] == SV1
    assert create.body["shots"] == 1000
    assert create.access_key_id == KEY_ID
    assert SECRET not in json.dumps(job.as_dict())

    # The fake reports RUNNING first: not done yet.
    assert braket.poll(task, device, job, CREDENTIALS) is None
    outcome = poll_until_done(task, job, braket)

    counts = outcome.circuits[0].counts
    assert counts is not None
    assert_bell(counts[0], 1000)
    assert outcome.metadata["provider_job_ids"] == list(job.ids)
    assert [r.operation for r in fake.requests].count("GetObject") == 1


def test_the_fake_also_serves_the_sdk_s_own_task_polling(
    braket: BraketProvider, config: ProviderConfig
):
    # The fake is what Braket looks like to the SDK: AwsQuantumTask reads states and results.
    from braket.aws import AwsQuantumTask

    job = braket.submit(bell_task("braket_sv1"), DEVICES["braket_sv1"], CREDENTIALS)
    aws = session(CREDENTIALS, config, "us-east-1", "qorch-results")
    quantum_task = AwsQuantumTask(job.ids[0], aws_session=aws, poll_interval_seconds=0.01)
    result = quantum_task.result()
    assert quantum_task.state() == "COMPLETED"
    assert set(result.measurement_counts) <= {"00", "11"}
    assert sum(result.measurement_counts.values()) == 1000


def test_a_failed_braket_task_fails_the_job_with_braket_s_reason(
    fake: FakeBraket, braket: BraketProvider
):
    fake.fail_next_tasks(1, "ValidationException: qubit count exceeds the device")
    task = bell_task("braket_sv1", job_id="job-fails")
    job = braket.submit(task, DEVICES["braket_sv1"], CREDENTIALS)
    with pytest.raises(ProviderError) as raised:
        poll_until_done(task, job, braket)
    assert raised.value.code == "provider_failed"
    assert raised.value.provider_code == "ValidationException"
    assert "qubit count exceeds" in raised.value.message


# --- 3. idempotent creates ------------------------------------------------------------------------


def test_a_create_whose_answer_is_lost_is_retried_without_a_second_task(
    fake: FakeBraket, braket: BraketProvider
):
    task = bell_task("braket_ionq_forte", job_id="job-lost-answer")
    device = DEVICES["braket_ionq_forte"]

    # The task is recorded, then the answer is a 503: the executor tries again, same token.
    fake.fail_next_creates(1)
    job = submitted_by_the_executor(braket, task, CREDENTIALS)
    assert fake.creates == 2
    assert fake.task_count == 1 and job.ids == (fake.tasks[0].arn,)

    # Every attempt fails: the executor gets a retryable error and submits again later.
    again = bell_task("braket_ionq_forte", job_id="job-lost-twice")
    fake.fail_next_creates(3)
    with pytest.raises(ProviderError) as raised:
        submitted_by_the_executor(braket, again, CREDENTIALS)
    assert raised.value.code == "provider_unavailable" and raised.value.retryable
    assert raised.value.provider_code == "ServiceUnavailableException"
    second = braket.submit(again, device, CREDENTIALS)

    assert fake.task_count == 2  # one per job, however many creates
    tokens = {t.client_token for t in fake.tasks}
    assert tokens == {"job-lost-answer", "job-lost-twice"}
    assert second.ids[0] == next(t.arn for t in fake.tasks if t.client_token == "job-lost-twice")


def test_each_task_of_a_job_has_its_own_token_derived_from_the_job_s(
    fake: FakeBraket, braket: BraketProvider
):
    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.rx(theta, 0)
    circuit.measure_all()
    task = ExecutionTask(
        "job-sets",
        "braket_sv1",
        "Run",
        100,
        (CircuitTask(qasm3.dumps(circuit), parameter_sets=((0.0,), (math.pi,), (0.0,))),),
        client_token="job-sets-r2",
    )
    job = braket.submit(task, DEVICES["braket_sv1"], CREDENTIALS)

    expected = ["job-sets-r2", "job-sets-r2-1", "job-sets-r2-2"]
    sent = [call.client_token for call in fake.calls("CreateQuantumTask")]
    assert sorted(sent) == expected  # created concurrently: in any order
    arn_of = {t.client_token: t.arn for t in fake.tasks}
    assert job.ids == tuple(arn_of[token] for token in expected)  # recorded in task order
    outcome = poll_until_done(task, job, braket)
    assert outcome.circuits[0].counts == [{"0": 100}, {"1": 100}, {"0": 100}]
    long = client_token("x" * 70, 3)
    assert len(long) <= 64 and long.endswith("-3")


# --- 4. dry run -----------------------------------------------------------------------------------


def test_a_dry_run_on_ionq_forte_prices_the_job_and_never_calls_aws(fake: FakeBraket):
    estimate = LOCAL.estimate(bell_task("braket_ionq_forte"), DEVICES["braket_ionq_forte"])

    # One task, $0.30 per task + $0.08 per shot (price table braket:ionq_forte).
    assert estimate.usd == pytest.approx(0.30 + 1000 * 0.08)
    assert estimate.breakdown["tasks"] == 1
    assert estimate.circuits[0]["qubits"] == 2 and estimate.circuits[0]["gates_2q"] >= 1
    assert estimate.seconds > 0
    assert fake.requests == []


def test_a_dry_run_prices_one_program_set_for_every_parameter_set_and_measurement_group():
    theta = Parameter("theta")
    circuit = QuantumCircuit(2)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    observables = (ObservableSpec(("ZZ", "XX"), (1.0, 1.0)),)  # two groups
    task = ExecutionTask(
        "job-dry",
        "braket_iqm_garnet",
        "Run",
        1000,
        (CircuitTask(qasm3.dumps(circuit), ((0.1,), (0.2,), (0.3,)), observables),),
    )
    estimate = LOCAL.estimate(task, DEVICES["braket_iqm_garnet"])
    # 3 sets x 2 groups = 6 executions in one program set: one task fee, every shot paid.
    assert estimate.breakdown["tasks"] == 1 and estimate.breakdown["program_sets"]
    assert estimate.breakdown["executions"] == [6]
    assert estimate.usd == pytest.approx(0.30 + 6 * 1000 * 0.00145)
    # SV1 has no program sets: a task per execution.
    on_sv1 = LOCAL.estimate(replace(task, device_id="braket_sv1"), DEVICES["braket_sv1"])
    assert on_sv1.breakdown["tasks"] == 6
    local = LOCAL.estimate(bell_task("braket_sv"), DEVICES["braket_sv"])
    assert local.usd == 0.0 and local.seconds > 0


# --- 5. credentials -------------------------------------------------------------------------------


def test_bad_keys_fail_as_invalid_credentials_and_the_secret_is_never_shown(
    fake: FakeBraket, braket: BraketProvider
):
    wrong = {"aws_access_key_id": "AKIDWRONG0000000000", "aws_secret_access_key": SECRET}
    with pytest.raises(ProviderError) as raised:
        braket.submit(bell_task("braket_ionq_forte"), DEVICES["braket_ionq_forte"], wrong)
    error = raised.value
    assert error.code == "invalid_credentials" and not error.retryable
    assert error.provider_code == "UnrecognizedClientException"
    assert SECRET not in error.message and SECRET not in str(error)
    assert SECRET not in json.dumps(error.as_dict())
    assert fake.task_count == 0
    assert fake.requests[-1].access_key_id == "AKIDWRONG0000000000"

    with pytest.raises(ProviderError) as status_error:
        braket.live_status([DEVICES["braket_ionq_forte"]], wrong)
    assert status_error.value.code == "invalid_credentials"

    with pytest.raises(ProviderError) as missing:
        braket.submit(bell_task("braket_sv1"), DEVICES["braket_sv1"], {})
    assert missing.value.code == "invalid_credentials"


# --- 6. parameters and observables on a QPU -------------------------------------------------------


def test_parametrised_observables_on_a_qpu_match_the_exact_values(
    fake: FakeBraket, braket: BraketProvider
):
    theta, phi = Parameter("theta"), Parameter("phi")
    circuit = QuantumCircuit(2)
    circuit.rx(0.9, 1)  # qubits 0 and 1 differ: a reversed bit order cannot hide
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.rz(phi, 1)
    circuit.sdg(1)
    source = qasm3.dumps(circuit)  # `input float[64] phi; input float[64] theta;`
    observables = (
        ObservableSpec(("ZZ", "IZ"), (1.0, 0.5)),
        ObservableSpec(("XX",), (1.0,)),
        ObservableSpec(("ZI", "YY"), (-1.0, 2.0)),
    )
    sets = ((0.3, 1.1), (1.2, -0.4))  # circuit.parameters order: phi, theta
    shots = 2000
    task = ExecutionTask(
        "job-vqe",
        "braket_ionq_forte",
        "Run",
        shots,
        (CircuitTask(source, parameter_sets=sets, observables=observables),),
        client_token="job-vqe",
    )
    device = DEVICES["braket_ionq_forte"]

    job = braket.submit(task, device, CREDENTIALS)

    # One program set: a program per measurement group, {ZZ, IZ, ZI}, {XX}, {YY}, each run
    # with both parameter sets as list inputs.
    (create,) = fake.calls("CreateQuantumTask")
    assert create.client_token == "job-vqe" and len(job.ids) == 1
    assert create.body is not None and create.body["shots"] == len(sets) * 3 * shots
    programs = json.loads(create.body["action"])["programs"]
    assert len(programs) == 3
    assert all("input float p_1;" in p["source"] and " gate " not in p["source"] for p in programs)
    assert programs[0]["inputs"] == {"p_0": [0.3, 1.2], "p_1": [1.1, -0.4]}
    assert all(t.device_arn == FORTE for t in fake.tasks)

    outcome = poll_until_done(task, job, braket)

    (result,) = outcome.circuits
    assert result.expectation_values is not None and result.standard_errors is not None
    for p, (phi_value, theta_value) in enumerate(sets):
        state = Statevector(circuit.assign_parameters({phi: phi_value, theta: theta_value}))
        for o, spec in enumerate(observables):
            operator = SparsePauliOp.from_list(
                list(zip(spec.paulis, spec.coefficients, strict=True))
            )
            exact = state.expectation_value(operator).real
            value, error = result.expectation_values[o][p], result.standard_errors[o][p]
            assert 0 < error < 0.1
            assert abs(value - exact) <= 5 * error, (o, p, value, exact, error)


def test_ionq_debiasing_is_what_use_mitigation_asks_braket_for(
    fake: FakeBraket, braket: BraketProvider
):
    device = DEVICES["braket_ionq_aria"]
    LOCAL.check_request(device, "Run", {}, True)
    with pytest.raises(ProviderError) as too_few:
        braket.submit(
            ExecutionTask(
                "job-m1", device.id, "Run", 1000, (CircuitTask(BELL),), use_mitigation=True
            ),
            device,
            CREDENTIALS,
        )
    assert too_few.value.field == "use_mitigation" and "2500" in too_few.value.message

    task = ExecutionTask(
        "job-m2",
        device.id,
        "Run",
        2500,
        (CircuitTask(BELL),),
        use_mitigation=True,
        client_token="job-m2",
    )
    job = braket.submit(task, device, CREDENTIALS)
    (create,) = fake.calls("CreateQuantumTask")
    parameters = json.loads(create.body["deviceParameters"])
    assert parameters["errorMitigation"] == [
        {"type": "braket.device_schema.error_mitigation.debias.Debias"}
    ]
    outcome = poll_until_done(task, job, braket)
    assert outcome.metadata["mitigation"] == "IonQ debiasing"
    counts = outcome.circuits[0].counts
    assert counts is not None
    assert_bell(counts[0], 2500)


# --- 7. cancel and live status --------------------------------------------------------------------


def test_a_cancelled_job_reaches_braket_and_polling_reports_it(
    fake: FakeBraket, braket: BraketProvider
):
    fake.hold()
    task = bell_task("braket_ionq_forte", job_id="job-cancel")
    device = DEVICES["braket_ionq_forte"]
    job = braket.submit(task, device, CREDENTIALS)
    assert braket.poll(task, device, job, CREDENTIALS) is None
    assert fake.tasks[0].status == "QUEUED"

    braket.cancel(device, job, CREDENTIALS)

    (cancel,) = fake.calls("CancelQuantumTask")
    assert job.ids[0].replace(":", "%3A").replace("/", "%2F") in cancel.path
    with pytest.raises(ProviderError) as raised:
        braket.poll(task, device, job, CREDENTIALS)
    assert raised.value.code == "provider_cancelled"
    # Cancelling again (already cancelled: Braket answers a conflict) is not an error.
    braket.cancel(device, job, CREDENTIALS)


def test_live_status_reads_device_status_and_queue_depth_from_braket(
    fake: FakeBraket, braket: BraketProvider
):
    fake.set_device(FORTE, queue_normal="7", queue_priority="2")
    fake.set_device(GARNET, status="OFFLINE")
    wanted: list[Device] = [
        DEVICES["braket_ionq_forte"],
        DEVICES["braket_iqm_garnet"],
        DEVICES["braket_sv1"],
        DEVICES["braket_sv"],
    ]

    status = braket.live_status(wanted, CREDENTIALS)

    assert status["braket_ionq_forte"] == {"status": "online", "queue_length": 9}
    assert status["braket_iqm_garnet"]["status"] == "offline"
    assert status["braket_sv1"] == {"status": "online", "queue_length": 0}
    assert status["braket_sv"]["status"] == "online"
    assert len(fake.calls("GetDevice")) == 3


def test_a_throttled_braket_answers_rate_limited_with_its_retry_after(
    fake: FakeBraket, braket: BraketProvider
):
    fake.fail_next(3, status=429, code="ThrottlingException", operation="GetDevice", retry_after=7)
    with pytest.raises(ProviderError) as raised:
        braket.live_status([DEVICES["braket_ionq_forte"]], CREDENTIALS)
    assert raised.value.code == "rate_limited" and raised.value.retryable
    assert raised.value.retry_after == 7
    assert raised.value.provider_code == "ThrottlingException"


def test_an_unreachable_braket_is_provider_unavailable():
    config = ProviderConfig(braket_endpoint_url="http://127.0.0.1:9", call_timeout=3.0)
    with pytest.raises(ProviderError) as raised:
        BraketProvider(config).live_status([DEVICES["braket_sv1"]], CREDENTIALS)
    assert raised.value.code == "provider_unavailable" and raised.value.retryable


# --- what a request may ask for -------------------------------------------------------------------


def test_requests_braket_cannot_honour_are_refused_before_the_job_is_recorded():
    forte, garnet, sv1 = (
        DEVICES[i] for i in ("braket_ionq_forte", "braket_iqm_garnet", "braket_sv1")
    )
    with pytest.raises(ProviderError) as unknown:
        LOCAL.check_request(forte, "Run", {"resilience_level": 1}, False)
    assert unknown.value.code == "unsupported_option"
    assert unknown.value.field == "options.resilience_level"
    with pytest.raises(ProviderError) as statevector:
        LOCAL.check_request(sv1, "StatevectorRun", {}, False)
    assert statevector.value.field == "run_type"
    with pytest.raises(ProviderError) as mitigation:
        LOCAL.check_request(garnet, "Run", {}, True)
    assert mitigation.value.field == "use_mitigation"
    LOCAL.check_request(DEVICES["braket_sv"], "StatevectorRun", {"optimization_level": 2}, False)
    LOCAL.check_request(forte, "Run", {"s3_bucket": "my-results-bucket"}, True)


def test_the_catalogue_describes_every_braket_device_without_network():
    assert set(DEVICES) == {
        "braket_sv",
        "braket_dm",
        "braket_sv1",
        "braket_dm1",
        "braket_ionq_forte",
        "braket_ionq_aria",
        "braket_iqm_garnet",
        "braket_rigetti_ankaa",
    }
    forte = DEVICES["braket_ionq_forte"]
    assert forte.remote and forte.qubits == 36 and forte.coupling_map is None
    assert forte.credentials == ("aws_access_key_id", "aws_secret_access_key")
    assert forte.extra["arn"] == FORTE and forte.price_key == "braket:ionq_forte"
    garnet = DEVICES["braket_iqm_garnet"]
    assert garnet.extra["region"] == "eu-north-1" and garnet.coupling_map
    assert DEVICES["braket_rigetti_ankaa"].qubits == 84
    assert DEVICES["braket_sv"].supports_statevector
    assert not DEVICES["braket_sv1"].supports_statevector


def test_every_gate_qorch_translates_acts_on_braket_exactly_as_in_qiskit():
    # One circuit with each gate that has a Braket twin and random angles, kept as written
    # (optimization_level 0), run exactly on braket_sv, compared with Qiskit's state, global
    # phase included (translating U to Braket gates changes it).
    rng = np.random.default_rng(7)
    standard = get_standard_gate_name_mapping()
    circuit = QuantumCircuit(3)
    for qubit in range(3):
        circuit.u(*rng.uniform(-3, 3, 3), qubit)
    for number, name in enumerate(QISKIT_TO_BRAKET):
        template = standard[name]
        gate = template.base_class(*rng.uniform(-3, 3, len(template.params)))
        order = [[2, 0, 1], [1, 2, 0], [0, 1, 2]][number % 3]
        circuit.append(gate, order[: gate.num_qubits])
    task = ExecutionTask(
        "job-gates",
        "braket_sv",
        "StatevectorRun",
        0,
        (CircuitTask(qasm3.dumps(circuit)),),
        options={"optimization_level": 0},
    )

    outcome = LOCAL.run(task, DEVICES["braket_sv"], {})

    statevectors = outcome.circuits[0].statevectors
    assert statevectors is not None
    re, im = statevectors[0]
    assert np.allclose(np.array(re) + 1j * np.array(im), Statevector(circuit).data)
