"""IonQ: a user's circuits go through the real qiskit-ionq client to a loopback IonQ API.

The fake (tests/fakes/ionq_api.py) speaks IonQ's REST API v0.4 and simulates what it receives, so
these tests check the wire (paths, auth header, job JSON), the mapping of results back to
Qiskit bit order, the bounds on every call, and what a dry run costs.
"""

from __future__ import annotations

import math
import os
import pickle
import time
import uuid
from collections.abc import Iterator

import pytest
from qiskit import QuantumCircuit, qasm3, transpile
from qiskit.quantum_info import SparsePauliOp, Statevector

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ionq import batches, build
from qorch.adapters.providers.ionq.catalogue import QIS_BASIS
from qorch.adapters.providers.ionq.provider import IonQProvider
from qorch.adapters.providers.pipeline.prices import load_prices
from qorch.domain.devices import Device
from qorch.domain.execution import (
    CircuitTask,
    ExecutionOutcome,
    ExecutionTask,
    ObservableSpec,
    ProviderError,
    ProviderJob,
)
from qorch.domain.ports import Provider
from tests.conftest import BELL_QASM2 as BELL
from tests.conftest import GHZ3_QASM2 as GHZ3
from tests.conftest import RY_CX
from tests.fakes.ionq_api import FakeIonQ

KEY = "ionq-key-for-tests-0123"
CREDENTIALS = {"ionq_api_key": KEY}

# Only qubit 1 is measured, into clbit 0: the result has one bit, read from IonQ's qubit 1.
X_ON_1_MEASURED_ALONE = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[1];
x q[1];
measure q[1] -> c[0];
"""

OFFLINE = build(ProviderConfig())
"""For what never calls IonQ: the catalogue, checks, dry runs."""
DEVICES = {device.id: device for device in OFFLINE.devices()}


@pytest.fixture
def fake() -> Iterator[FakeIonQ]:
    with FakeIonQ(KEY) as server:
        yield server


def ionq_at(fake: FakeIonQ, call_timeout: float = 15.0) -> IonQProvider:
    return build(ProviderConfig(ionq_api_url=fake.url, call_timeout=call_timeout))


def task_for(
    device_id: str,
    *circuits: CircuitTask,
    shots: int = 1000,
    token: str | None = None,
    options: dict[str, object] | None = None,
    mitigate: bool = False,
) -> ExecutionTask:
    # A token of its own: the adapter remembers submits per (API URL, token) in this process,
    # and a later test's fake may get an earlier one's port (and so its URL).
    token = token or f"job-{uuid.uuid4()}"
    return ExecutionTask(
        job_id=token,
        device_id=device_id,
        run_type="Run",
        shots=shots,
        circuits=circuits,
        options=dict(options or {}),
        use_mitigation=mitigate,
        client_token=token,
    )


def run(task: ExecutionTask, ionq: IonQProvider) -> tuple[ProviderJob, ExecutionOutcome]:
    """Submit, then poll until done, as the executor does."""
    device = DEVICES[task.device_id]
    job = ionq.submit(task, device, CREDENTIALS)
    for _ in range(100):
        outcome = ionq.poll(task, device, job, CREDENTIALS)
        if outcome is not None:
            return job, outcome
        time.sleep(0.01)
    raise AssertionError("the job never finished")


def test_the_catalogue_lists_the_simulator_and_two_qpus_all_to_all() -> None:
    assert set(DEVICES) == {"ionq_simulator", "ionq_aria_1", "ionq_forte_1"}
    simulator, aria, forte = (DEVICES[d] for d in ("ionq_simulator", "ionq_aria_1", "ionq_forte_1"))
    assert (simulator.qubits, aria.qubits, forte.qubits) == (29, 25, 36)
    assert (simulator.price_key, aria.price_key, forte.price_key) == (
        None,
        "ionq:aria",
        "ionq:forte",
    )
    for device in DEVICES.values():
        assert device.remote and device.credentials == ("ionq_api_key",)
        assert device.coupling_map is None and not device.supports_statevector
        assert {"h", "cx", "rz", "sdg", "sx", "swap"} <= set(device.basis_gates)


def test_the_provider_travels_to_worker_processes_as_a_small_value(fake: FakeIonQ) -> None:
    ionq: Provider = ionq_at(fake)
    task = task_for("ionq_simulator", CircuitTask(BELL), token="job-pickled")
    device = DEVICES["ionq_simulator"]

    job = pickle.loads(pickle.dumps(ionq)).submit(task, device, CREDENTIALS)
    outcome = pickle.loads(pickle.dumps(ionq)).poll(task, device, job, CREDENTIALS)

    assert pickle.loads(pickle.dumps(ionq)) == ionq and ionq.name == "ionq"
    assert outcome is not None and outcome.circuits[0].counts is not None


def test_bell_on_the_simulator_through_the_real_client(fake: FakeIonQ) -> None:
    before = os.environ.get("IONQ_API_URL")
    task = task_for("ionq_simulator", CircuitTask(BELL), shots=1000)

    job, outcome = run(task, ionq_at(fake))

    counts = outcome.circuits[0].counts
    assert counts is not None and set(counts[0]) == {"00", "11"}
    assert sum(counts[0].values()) == 1000
    assert abs(counts[0]["00"] - 500) < 5 * math.sqrt(1000 * 0.25)  # ~50/50 within 5 sigma
    assert outcome.circuits[0].distributions == [{"00": 0.5, "11": 0.5}]
    assert outcome.circuits[0].transpiled == {"qubits": 2, "depth": 3, "gates_1q": 1, "gates_2q": 1}
    assert outcome.metadata["provider_job_ids"] == list(job.ids) and len(job.ids) == 1
    assert outcome.metadata["noise_model"] == "ideal"

    # The fake saw IonQ's auth header on every authenticated call, and an ionq.circuit.v1 job.
    authenticated = [r for r in fake.requests if "/backends" not in r.path]
    assert authenticated and all(
        r.headers.get("Authorization") == f"apiKey {KEY}" for r in authenticated
    )
    (post,) = fake.requests_to("POST", "/v0.4/jobs")
    assert post.body["type"] == "ionq.circuit.v1" and post.body["backend"] == "simulator"
    assert post.body["input"]["gateset"] == "qis" and post.body["shots"] == 1000
    assert post.body["metadata"]["qorch_token"] == task.client_token
    # The backend was sized at the configured URL (the fake), not at IonQ's default...
    assert fake.requests_to("GET", "/v0.4/backends/simulator")
    # ...and qiskit-ionq's environment variable was never touched.
    assert os.environ.get("IONQ_API_URL") == before
    # Polling again gives the same counts (sampling is seeded by the IonQ job id).
    again = ionq_at(fake).poll(task, DEVICES["ionq_simulator"], job, CREDENTIALS)
    assert again is not None and again.circuits[0].counts == counts


def test_results_follow_the_measured_classical_bits(fake: FakeIonQ) -> None:
    # IonQ keys outcomes by integer with qubit 0 least significant; results use Qiskit's order
    # (clbit 0 rightmost) and only the bits the circuit measures.
    x_on_0 = BELL.replace("h q[0];\ncx q[0],q[1];", "x q[0];")
    task = task_for(
        "ionq_simulator", CircuitTask(x_on_0), CircuitTask(X_ON_1_MEASURED_ALONE), shots=100
    )

    _, outcome = run(task, ionq_at(fake))

    assert outcome.circuits[0].counts == [{"01": 100}]
    assert outcome.circuits[1].counts == [{"1": 100}]


@pytest.mark.parametrize(
    ("hung", "stage"),
    [("backend", "submit"), ("submit", "submit"), ("job", "poll")],
    ids=["backend-sizing", "job-creation", "job-status"],
)
def test_a_hanging_ionq_fails_with_provider_timeout_within_our_bound(
    fake: FakeIonQ, hung: str, stage: str
) -> None:
    ionq = ionq_at(fake, call_timeout=1.5)
    task = task_for("ionq_simulator", CircuitTask(BELL))
    device = DEVICES["ionq_simulator"]
    job = ionq.submit(task, device, CREDENTIALS) if stage == "poll" else None
    fake.hang(hung)

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        if job is None:
            ionq.submit(task, device, CREDENTIALS)
        else:
            ionq.poll(task, device, job, CREDENTIALS)
    elapsed = time.monotonic() - started

    assert caught.value.code == "provider_timeout" and caught.value.retryable
    assert elapsed < 3 * ionq.config.call_timeout


def test_a_429_is_retried_by_submitting_again_and_one_job_exists(fake: FakeIonQ) -> None:
    ionq = ionq_at(fake)
    task = task_for("ionq_simulator", CircuitTask(BELL), token="job-429")
    device = DEVICES["ionq_simulator"]
    fake.rate_limit(1, retry_after=7)

    with pytest.raises(ProviderError) as caught:
        ionq.submit(task, device, CREDENTIALS)
    error = caught.value
    assert (error.code, error.provider_code, error.retry_after) == ("rate_limited", "429", 7.0)
    assert error.retryable and not fake.jobs

    job = ionq.submit(task, device, CREDENTIALS)  # the executor's retry

    assert fake.submits == 2 and list(fake.jobs) == list(job.ids)
    outcome = ionq.poll(task, device, job, CREDENTIALS)
    assert outcome is not None and outcome.circuits[0].counts is not None
    assert sum(outcome.circuits[0].counts[0].values()) == 1000


def test_a_retry_after_a_partial_submit_reuses_the_jobs_already_created(
    fake: FakeIonQ, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A task larger than one IonQ job is split into several; one circuit per job here.
    monkeypatch.setattr(batches, "MAX_CIRCUITS_PER_JOB", 1)
    ionq = ionq_at(fake)
    sets = ((0.1,), (0.7,), (1.9,))
    circuit = CircuitTask(RY_CX, parameter_sets=sets, observables=(ObservableSpec(("ZZ",), (1,)),))
    task = task_for("ionq_simulator", circuit, token="job-partial")
    device = DEVICES["ionq_simulator"]
    fake.rate_limit(1, retry_after=2, after=1)  # the second of three submits is refused

    with pytest.raises(ProviderError, match="429"):
        ionq.submit(task, device, CREDENTIALS)
    (first,) = fake.jobs

    job = ionq.submit(task, device, CREDENTIALS)

    assert len(fake.jobs) == 3 and job.ids[0] == first and set(job.ids) == set(fake.jobs)
    assert job.data["reused_jobs"] == 1


def test_a_lost_answer_to_a_submit_does_not_create_a_second_job(fake: FakeIonQ) -> None:
    ionq = ionq_at(fake, call_timeout=1.5)
    task = task_for("ionq_simulator", CircuitTask(BELL), token="job-lost")
    device = DEVICES["ionq_simulator"]
    fake.lose_answer_to_next_submit()

    with pytest.raises(ProviderError) as caught:
        ionq.submit(task, device, CREDENTIALS)
    assert caught.value.code == "provider_timeout"
    (created,) = fake.jobs  # IonQ did create it; only the answer was lost

    job = ionq.submit(task, device, CREDENTIALS)

    assert job.ids == (created,) and len(fake.jobs) == 1


def test_a_retry_while_the_first_submit_still_waits_for_ionq_reuses_its_job(
    fake: FakeIonQ,
) -> None:
    # The first POST outlives its call; IonQ creates the job only after our retry has
    # already looked (and found nothing): the retry must wait for the first answer instead.
    ionq = ionq_at(fake, call_timeout=1.5)
    task = task_for("ionq_simulator", CircuitTask(BELL), token="job-slow")
    device = DEVICES["ionq_simulator"]
    fake.hold_next_submit_until_a_lookup()

    with pytest.raises(ProviderError) as caught:
        ionq.submit(task, device, CREDENTIALS)
    assert caught.value.code == "provider_timeout" and not fake.jobs

    job = ionq.submit(task, device, CREDENTIALS)

    assert fake.submits == 1 and list(fake.jobs) == list(job.ids)


def test_a_dry_run_on_aria_prices_gates_from_the_table_and_calls_nobody(
    fake: FakeIonQ, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even if something tried qiskit-ionq's environment-driven URL, it would land at the fake.
    monkeypatch.setenv("IONQ_API_URL", fake.url)
    entry = load_prices()["entries"]["ionq:aria"]
    ghz = QuantumCircuit.from_qasm_str(GHZ3)
    ops = transpile(ghz, basis_gates=list(QIS_BASIS), optimization_level=1).count_ops()
    g1 = sum(n for name, n in ops.items() if name in ("h", "x", "rz", "sx", "s", "t"))
    g2 = sum(n for name, n in ops.items() if name in ("cx", "swap"))
    assert (g1, g2) == (1, 2)

    def usd(shots: int, mitigate: bool = False) -> float:
        task = task_for("ionq_aria_1", CircuitTask(GHZ3), shots=shots, mitigate=mitigate)
        return OFFLINE.estimate(task, DEVICES["ionq_aria_1"]).usd

    def priced(shots: int, minimum: float) -> float:
        gate_shots = shots * (g1 * entry["per_1q_gate_shot"] + g2 * entry["per_2q_gate_shot"])
        return max(minimum, gate_shots)

    assert usd(1000) == pytest.approx(priced(1000, entry["minimum"]))  # the per-job minimum
    assert usd(10_000) == pytest.approx(priced(10_000, entry["minimum"]))  # 21.70 > minimum
    assert usd(1000, mitigate=True) == pytest.approx(priced(1000, entry["minimum_with_mitigation"]))
    estimate = OFFLINE.estimate(task_for("ionq_aria_1", CircuitTask(GHZ3)), DEVICES["ionq_aria_1"])
    assert estimate.circuits == [{"qubits": 3, "depth": 4, "gates_1q": 1, "gates_2q": 2}]
    assert estimate.seconds > 0
    assert fake.requests == []


def test_a_dry_run_pays_the_minimum_once_per_ionq_job_not_per_execution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    observables = (ObservableSpec(("ZZ",), (1.0,)), ObservableSpec(("XX",), (1.0,)))
    sets = ((0.1,), (0.2,), (0.3,))
    task = task_for(
        "ionq_forte_1", CircuitTask(RY_CX, parameter_sets=sets, observables=observables)
    )
    minimum = load_prices()["entries"]["ionq:forte"]["minimum"]

    estimate = OFFLINE.estimate(task, DEVICES["ionq_forte_1"])

    # 3 sets x 2 groups (ZZ | XX) = 6 executions in one multi-circuit job, whose gate-shots
    # (6 x ~1.6 USD at 1000 shots) stay under one minimum.
    assert estimate.breakdown["executions_per_circuit"] == [6]
    assert estimate.breakdown["ionq_jobs"] == 1
    assert estimate.usd == pytest.approx(minimum)
    monkeypatch.setattr(batches, "MAX_CIRCUITS_PER_JOB", 4)  # split: 4 + 2 executions
    split = OFFLINE.estimate(task, DEVICES["ionq_forte_1"])
    assert split.breakdown["ionq_jobs"] == 2 and split.usd == pytest.approx(2 * minimum)
    free = OFFLINE.estimate(
        task_for("ionq_simulator", CircuitTask(BELL)), DEVICES["ionq_simulator"]
    )
    assert free.usd == 0 and free.seconds > 0


def test_observables_match_the_exact_values_within_five_sigma(fake: FakeIonQ) -> None:
    thetas = (0.3, 1.2, 2.5)
    observables = (
        ObservableSpec(("ZZ",), (1.0,)),
        ObservableSpec(("IZ", "XX"), (0.5, 0.5)),
        ObservableSpec(("XX", "ZI"), (1.0, -0.25)),
    )
    bell = CircuitTask(BELL, observables=(ObservableSpec(("ZZ",), (1.0,)),))
    sweep = CircuitTask(RY_CX, parameter_sets=tuple((t,) for t in thetas), observables=observables)
    task = task_for("ionq_simulator", bell, sweep, shots=4000)

    job, outcome = run(task, ionq_at(fake))

    assert outcome.circuits[0].expectation_values == [[1.0]]  # Bell: ZZ = 1, no spread at all
    assert outcome.circuits[0].standard_errors == [[0.0]]
    # One IonQ job of 7 circuits. Bell: one group; sweep: 3 sets x {ZZ, IZ, ZI} | {XX}.
    (post,) = fake.requests_to("POST", "/v0.4/jobs")
    assert len(job.ids) == 1 and len(post.body["input"]["circuits"]) == 1 + 3 * 2
    circuit = qasm3.loads(RY_CX)
    values = outcome.circuits[1].expectation_values
    errors = outcome.circuits[1].standard_errors
    assert values is not None and errors is not None
    for o, spec in enumerate(observables):
        operator = SparsePauliOp.from_list(list(zip(spec.paulis, spec.coefficients, strict=True)))
        for p, theta in enumerate(thetas):
            exact = Statevector(circuit.assign_parameters([theta])).expectation_value(operator)
            assert abs(values[o][p] - exact.real) <= 5 * errors[o][p] + 1e-9, (o, p)
            if o:
                assert 0 < errors[o][p] < 0.05


def test_a_wrong_key_is_invalid_credentials_and_never_echoed() -> None:
    wrong = "wrong-key-that-must-stay-secret"
    with FakeIonQ(KEY, echo_key_in_errors=True) as fake:
        task = task_for("ionq_simulator", CircuitTask(BELL))
        with pytest.raises(ProviderError) as caught:
            ionq_at(fake).submit(task, DEVICES["ionq_simulator"], {"ionq_api_key": wrong})
        assert not fake.jobs
        assert any(wrong in str(r.headers) for r in fake.requests)  # it was sent, and echoed

    error = caught.value
    assert (error.code, error.provider_code, error.retryable) == (
        "invalid_credentials",
        "401",
        False,
    )
    for text in (error.message, str(error), repr(error), str(error.as_dict())):
        assert wrong not in text


def test_a_missing_key_is_refused_before_any_call(fake: FakeIonQ) -> None:
    task = task_for("ionq_simulator", CircuitTask(BELL))
    for credentials in ({}, {"ionq_api_key": ""}, {"ionq_api_key": "two\nlines"}):
        with pytest.raises(ProviderError) as caught:
            ionq_at(fake).submit(task, DEVICES["ionq_simulator"], credentials)
        assert caught.value.code == "invalid_credentials"
    assert fake.requests == []


def test_mitigation_on_a_qpu_asks_ionq_for_debiasing(fake: FakeIonQ) -> None:
    mitigated = task_for("ionq_aria_1", CircuitTask(GHZ3), shots=1000, mitigate=True, token="m")
    plain = task_for("ionq_aria_1", CircuitTask(GHZ3), shots=1000, token="p")

    _, outcome = run(mitigated, ionq_at(fake))
    run(plain, ionq_at(fake))

    first, second = (r.body for r in fake.requests_to("POST", "/v0.4/jobs"))
    assert first["settings"]["error_mitigation"] == {"debiasing": True}
    assert second["settings"]["error_mitigation"] == {"debiasing": False}
    assert first["backend"] == "qpu.aria-1" and "noise" not in first
    assert outcome.metadata["mitigation"] == "debiasing"
    counts = outcome.circuits[0].counts
    assert counts is not None and sum(counts[0].values()) == 1000  # rounded, sums to shots
    assert counts[0]["000"] + counts[0]["111"] > 900
    with pytest.raises(ProviderError) as caught:  # IonQ debiases 500 shots or more
        ionq_at(fake).submit(
            task_for("ionq_aria_1", CircuitTask(GHZ3), shots=100, mitigate=True),
            DEVICES["ionq_aria_1"],
            CREDENTIALS,
        )
    assert caught.value.field == "use_mitigation" and len(fake.jobs) == 2


def test_a_noise_model_on_the_simulator_gives_noisy_counts(fake: FakeIonQ) -> None:
    task = task_for("ionq_simulator", CircuitTask(GHZ3), options={"noise_model": "aria-1"})

    _, outcome = run(task, ionq_at(fake))

    (post,) = fake.requests_to("POST", "/v0.4/jobs")
    assert post.body["noise"]["model"] == "aria-1"
    counts = outcome.circuits[0].counts
    assert counts is not None and sum(counts[0].values()) == 1000
    assert set(counts[0]) - {"000", "111"}  # noise reaches other outcomes
    assert outcome.metadata["noise_model"] == "aria-1"


def test_a_running_job_is_pending_then_cancelled(fake: FakeIonQ) -> None:
    ionq = ionq_at(fake)
    device = DEVICES["ionq_forte_1"]
    task = task_for("ionq_forte_1", CircuitTask(BELL))
    fake.hold_jobs()
    job = ionq.submit(task, device, CREDENTIALS)

    assert ionq.poll(task, device, job, CREDENTIALS) is None
    ionq.cancel(device, job, CREDENTIALS)

    assert fake.requests_to("PUT", f"/v0.4/jobs/{job.ids[0]}/status/cancel")
    with pytest.raises(ProviderError) as caught:
        ionq.poll(task, device, job, CREDENTIALS)
    assert caught.value.code == "provider_cancelled"


def test_a_failed_job_carries_ionqs_error_code(fake: FakeIonQ) -> None:
    fake.fail_next_jobs(1, code="QuantumComputerError", message="trap reload")
    task = task_for("ionq_aria_1", CircuitTask(BELL))
    device = DEVICES["ionq_aria_1"]
    job = ionq_at(fake).submit(task, device, CREDENTIALS)

    with pytest.raises(ProviderError) as caught:
        ionq_at(fake).poll(task, device, job, CREDENTIALS)

    error = caught.value
    assert (error.code, error.provider_code) == ("provider_failed", "QuantumComputerError")
    assert "trap reload" in error.message and not error.retryable


def test_live_status_reads_ionqs_backends(fake: FakeIonQ) -> None:
    fake.set_backend_status("qpu.aria-1", status="unavailable")
    fake.set_backend_status("qpu.forte-1", degraded=True, average_queue_time=90_000)

    statuses = ionq_at(fake).live_status(list(DEVICES.values()), CREDENTIALS)

    assert statuses["ionq_simulator"]["status"] == "online"
    assert statuses["ionq_aria_1"]["status"] == "offline"
    assert statuses["ionq_forte_1"] == {
        "status": "degraded",
        "queue_length": None,
        "average_queue_seconds": 90.0,
        "last_updated": statuses["ionq_forte_1"]["last_updated"],
    }


@pytest.mark.parametrize(
    ("device_id", "run_type", "options", "mitigate", "field"),
    [
        ("ionq_simulator", "Run", {"shots_per_second": 3}, False, "options.shots_per_second"),
        ("ionq_aria_1", "Run", {"noise_model": "aria-1"}, False, "options.noise_model"),
        ("ionq_simulator", "Run", {"noise_model": "harmonium"}, False, "options.noise_model"),
        ("ionq_simulator", "Run", {"noise_model": "forte-1"}, True, "use_mitigation"),
        ("ionq_simulator", "StatevectorRun", {}, False, "run_type"),
        ("ionq_forte_1", "Run", {"optimization_level": 7}, False, "options.optimization_level"),
    ],
)
def test_check_request_refuses_what_ionq_cannot_do(
    device_id: str, run_type: str, options: dict[str, object], mitigate: bool, field: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        OFFLINE.check_request(DEVICES[device_id], run_type, options, mitigate)
    assert caught.value.field == field


def test_check_request_accepts_what_ionq_can_do() -> None:
    device: Device = DEVICES["ionq_simulator"]
    OFFLINE.check_request(device, "Run", {"noise_model": "forte-1", "sampler_seed": 3}, False)
    OFFLINE.check_request(device, "Run", {}, True)  # ideal simulator: nothing to mitigate
    OFFLINE.check_request(DEVICES["ionq_aria_1"], "Run", {"optimization_level": 0}, True)


def test_mid_circuit_measurement_is_refused_before_any_call(fake: FakeIonQ) -> None:
    source = BELL.replace("measure q -> c;", "measure q[0] -> c[0];\nx q[0];\nmeasure q -> c;")
    task = task_for("ionq_simulator", CircuitTask(source))

    with pytest.raises(ProviderError) as caught:
        ionq_at(fake).submit(task, DEVICES["ionq_simulator"], CREDENTIALS)

    assert caught.value.code == "unsupported_circuit" and fake.requests == []
