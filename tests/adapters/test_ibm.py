"""IBM Quantum adapter: what a user gets from the local testing mode devices, the QPUs (against a
simulated IBM Quantum Platform at the Python level) and dry runs, and what is refused.

No test reaches the internet: an autouse guard refuses every connection that is not to
127.0.0.1, and the only HTTP peer is the loopback IAM fake.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest

from qorch.adapters.executor.calls import ProviderCalls
from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ibm import build, errors, primitives, service
from qorch.adapters.providers.ibm import options as ibm_options
from qorch.adapters.providers.pipeline.prices import load_prices
from qorch.domain.execution import (
    CircuitTask,
    ExecutionTask,
    ObservableSpec,
    ProviderError,
    ProviderJob,
)
from tests.conftest import BELL_QASM2 as BELL
from tests.fakes.ibm_quantum import FakeIAM, FakeIBMQuantum

GHZ3 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
h q[0];
cx q[0],q[1];
cx q[1],q[2];
"""

ROTATED_BELL = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[2] q;
bit[2] c;
ry(theta) q[0];
cx q[0], q[1];
c = measure q;
"""

TOKEN = "Zq3_k9-" + "x" * 37  # well formed (44 characters), known to no one
CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/0123456789abcdef:instance-1::"
ibm = build(ProviderConfig())
DEVICES = {device.id: device for device in ibm.devices()}


def task(
    device_id: str,
    *circuits: CircuitTask,
    shots: int = 2000,
    mitigate: bool = False,
    token: str = "job-1",
    **options: Any,
) -> ExecutionTask:
    return ExecutionTask(
        job_id="job-1",
        device_id=device_id,
        run_type="Run",
        shots=shots,
        circuits=circuits,
        options=options,
        use_mitigation=mitigate,
        client_token=token,
    )


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every socket connection must go to 127.0.0.1; records the ones made."""
    made: list[Any] = []
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        made.append(address)
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"test tried to reach {address!r}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    service.SERVICES.clear()
    yield made
    service.SERVICES.clear()


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> FakeIBMQuantum:
    """A simulated IBM Quantum Platform in place of QiskitRuntimeService."""
    fake = FakeIBMQuantum(pending_polls=1)
    built: list[tuple[str | None, str | None]] = []

    def connect(token: str, instance: str | None, url: str | None) -> FakeIBMQuantum:
        assert token == TOKEN
        built.append((instance, url))
        return fake

    monkeypatch.setattr(service, "connect", connect)
    fake.built = built  # type: ignore[attr-defined]
    return fake


async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    return await anyio.to_thread.run_sync(lambda: function(*args), abandon_on_cancel=True)


# --- 1. local testing mode ---------------------------------------------------------------------


def test_bell_on_fake_manila_is_half_00_half_11_with_some_noise() -> None:
    outcome = ibm.run(
        task("runtime_fake_manila", CircuitTask(BELL), shots=4000, seed_simulator=11),
        DEVICES["runtime_fake_manila"],
        {},
    )

    (circuit,) = outcome.circuits
    assert circuit.counts is not None and circuit.distributions is not None
    counts = circuit.counts[0]
    assert sum(counts.values()) == 4000
    p = circuit.distributions[0]
    assert abs(p.get("00", 0) - 0.5) < 0.07 and abs(p.get("11", 0) - 0.5) < 0.07
    # FakeManila's readout and CX errors show up as a few percent of 01/10
    assert 0.01 < p.get("01", 0) + p.get("10", 0) < 0.15
    assert circuit.transpiled["gates_2q"] == 1
    assert outcome.metadata["execution"] == "qiskit-ibm-runtime local testing mode"
    assert outcome.metadata["primitives"] == {
        "sampler": "qiskit_ibm_runtime.executor_sampler.Sampler"
    }
    assert outcome.metadata["mitigation"]["requested"] is False


def test_ghz_observables_are_close_to_exact_with_mitigation() -> None:
    observables = (
        ObservableSpec(("ZZI",), (1.0,)),  # exact 1
        ObservableSpec(("XXX",), (1.0,)),  # exact 1
        ObservableSpec(("ZZZ", "IZZ"), (0.5, 0.5)),  # exact 0.5
    )
    exact = [1.0, 1.0, 0.5]
    device = DEVICES["runtime_fake_manila"]

    raw = ibm.run(
        task("runtime_fake_manila", CircuitTask(GHZ3, observables=observables), seed_simulator=3),
        device,
        {},
    )
    mitigated = ibm.run(
        task(
            "runtime_fake_manila",
            CircuitTask(GHZ3, observables=observables),
            mitigate=True,
            seed_simulator=3,
        ),
        device,
        {},
    )

    values = mitigated.circuits[0].expectation_values
    errors = mitigated.circuits[0].standard_errors
    assert values is not None and errors is not None
    assert [len(v) for v in values] == [1, 1, 1]  # [observable][parameter set]
    for value, error, want in zip(values, errors, exact, strict=True):
        assert abs(value[0] - want) < 0.09
        assert 0 < error[0] < 0.05
    raw_values = raw.circuits[0].expectation_values
    assert raw_values is not None
    # readout errors bias ZZ correlations down; TREX removes most of that
    assert raw_values[0][0] < 0.9 < values[0][0]
    applied = mitigated.metadata["mitigation"]["estimator"]
    assert applied["resilience_level"] == 1 and applied["measure_mitigation"] is True
    assert raw.metadata["mitigation"]["estimator"]["resilience_level"] == 0


def test_parameter_sets_and_readout_mitigation_on_fake_manila() -> None:
    outcome = ibm.run(
        task(
            "runtime_fake_manila",
            CircuitTask(ROTATED_BELL, parameter_sets=((0.0,), (3.141592653589793,))),
            mitigate=True,
            seed_simulator=5,
        ),
        DEVICES["runtime_fake_manila"],
        {},
    )

    circuit = outcome.circuits[0]
    assert circuit.counts is not None and circuit.distributions is not None
    assert len(circuit.counts) == 2  # one per parameter set
    assert all(sum(c.values()) == 2000 for c in circuit.counts)  # raw, as measured
    zero, pi = circuit.distributions
    assert zero.get("00", 0) > 0.97 and pi.get("11", 0) > 0.97
    # the correction removes most of the readout errors the raw counts show
    raw_errors = 1 - circuit.counts[0].get("00", 0) / 2000
    assert 1 - zero.get("00", 0) < raw_errors / 2
    readout = outcome.metadata["mitigation"]["sampler"]["readout"]
    assert readout["circuits"] == [0] and readout["calibrated_qubits"]
    assert outcome.metadata["mitigation"]["sampler"]["twirling"]["enable_measure"] is True


def test_a_127_qubit_local_device_runs_the_estimator_on_the_qubits_used() -> None:
    # The Estimator measures every qubit of its circuit: on the whole of FakeBrisbane Aer
    # cannot simulate that; restricted to the 3 qubits used it takes a fraction of a second.
    started = time.perf_counter()
    outcome = ibm.run(
        task(
            "runtime_fake_brisbane",
            CircuitTask(GHZ3, observables=(ObservableSpec(("ZZI",), (1.0,)),)),
            CircuitTask(BELL),
            seed_simulator=1,
        ),
        DEVICES["runtime_fake_brisbane"],
        {},
    )
    assert time.perf_counter() - started < 10
    values = outcome.circuits[0].expectation_values
    assert values is not None and 0.75 < values[0][0] <= 1.0
    assert outcome.metadata["simulated_qubits"]["estimator"] == sorted(
        outcome.metadata["simulated_qubits"]["estimator"]
    )
    assert len(outcome.metadata["simulated_qubits"]["estimator"]) == 3
    distribution = outcome.circuits[1].distributions
    assert distribution is not None and distribution[0].get("00", 0) > 0.4


# --- 2. credentials ----------------------------------------------------------------------------


def test_a_malformed_token_fails_at_once_without_calling_ibm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_sdk(*args: Any) -> None:
        raise AssertionError("the SDK was called")

    monkeypatch.setattr(service, "connect", no_sdk)
    secret = "my-secret-token-123"
    started = time.perf_counter()
    with pytest.raises(ProviderError) as raised:
        ibm.submit(
            task("ibm_brisbane", CircuitTask(BELL)),
            DEVICES["ibm_brisbane"],
            {"ibm_quantum_token": secret},
        )
    assert time.perf_counter() - started < 2.0
    error = raised.value
    assert error.code == "invalid_credentials" and error.field == "options"
    assert "IBM Cloud API key" in error.message and secret not in error.message


def test_a_well_formed_but_unknown_token_fails_fast_with_iams_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeIAM() as iam:
        monkeypatch.setenv("IAM_URL", iam.url)
        started = time.perf_counter()
        with pytest.raises(ProviderError) as raised:
            ibm.submit(
                task("ibm_brisbane", CircuitTask(BELL)),
                DEVICES["ibm_brisbane"],
                {"ibm_quantum_token": TOKEN, "ibm_quantum_instance": CRN},
            )
        elapsed = time.perf_counter() - started
    error = raised.value
    assert elapsed < 2.0
    assert error.code == "invalid_credentials" and not error.retryable
    assert error.field == "options" and error.provider_code == "400"
    assert "could not be found" in error.message and "ibm_quantum_token" in error.message
    assert TOKEN not in error.message
    assert [r["form"]["apikey"] for r in iam.requests] == [[TOKEN]]  # it did ask IAM, once


def test_an_iam_that_never_answers_is_abandoned_within_the_call_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The executor bounds every provider call (here in a thread instead of a worker process,
    # so that the socket guard and IAM_URL apply); the adapter makes one plain attempt.
    config = ProviderConfig(call_timeout=1.5, max_retries=0)
    calls = ProviderCalls(in_thread, config)
    with FakeIAM(hang=True) as iam:
        monkeypatch.setenv("IAM_URL", iam.url)
        started = time.perf_counter()
        with pytest.raises(ProviderError) as raised:
            anyio.run(
                calls,
                build(config).submit,
                task("ibm_brisbane", CircuitTask(BELL)),
                DEVICES["ibm_brisbane"],
                {"ibm_quantum_token": TOKEN, "ibm_quantum_instance": CRN},
            )
        elapsed = time.perf_counter() - started
    assert raised.value.code == "provider_timeout" and raised.value.retryable
    assert elapsed < 2.0


def test_an_unreachable_iam_is_provider_unavailable_not_bad_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The SDK says "check that you are using a valid API token" for both; the cause differs.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setenv("IAM_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(ProviderError) as raised:
        ibm.submit(
            task("ibm_brisbane", CircuitTask(BELL)),
            DEVICES["ibm_brisbane"],
            {"ibm_quantum_token": TOKEN, "ibm_quantum_instance": CRN},
        )
    assert raised.value.code == "provider_unavailable" and raised.value.retryable
    assert TOKEN not in raised.value.message


# --- 3. dry runs -------------------------------------------------------------------------------


def test_dry_run_on_brisbane_prices_qpu_time_from_the_table_offline(
    only_loopback: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"a dry run opened a connection to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    estimate = ibm.estimate(
        task("ibm_brisbane", CircuitTask(BELL), shots=4000), DEVICES["ibm_brisbane"]
    )

    (shape,) = estimate.circuits
    assert shape["qubits"] == 2 and shape["gates_2q"] == 1  # one ECR on Eagle
    (duration,) = estimate.breakdown["circuit_duration_seconds"]
    assert 1e-7 < duration < 1e-4  # gates + readout, from the calibration snapshot
    time_model = load_prices()["entries"]["ibm:pay_as_you_go"]["time"]
    seconds = time_model["task_overhead_seconds"] + 4000 * (
        time_model["shot_overhead_seconds"] + duration
    )
    assert estimate.seconds == pytest.approx(seconds)
    assert estimate.usd == pytest.approx(round(seconds * 1.60, 6)) and estimate.usd > 0
    assert estimate.breakdown["price_key"] == "ibm:pay_as_you_go"
    assert estimate.breakdown["calibration_snapshot"].startswith("FakeBrisbane")


def test_dry_run_of_a_sweep_pays_the_job_overhead_once_per_circuit() -> None:
    sweep = tuple((0.1 * k,) for k in range(50))
    estimate = ibm.estimate(
        task(
            "ibm_torino",
            CircuitTask(
                ROTATED_BELL.replace("bit[2] c;\n", "").replace("c = measure q;\n", ""),
                parameter_sets=sweep,
                observables=(ObservableSpec(("ZZ", "XX"), (1.0, 1.0)),),
            ),
            shots=1000,
            resilience_level=0,
        ),
        DEVICES["ibm_torino"],
    )
    breakdown = estimate.breakdown
    # 50 parameter sets x 2 measurement bases (ZZ and XX do not commute qubit-wise)
    assert breakdown["measurement_bases"] == [2]
    assert breakdown["executions_per_circuit"] == [100]
    (duration,) = breakdown["circuit_duration_seconds"]
    time_model = load_prices()["entries"]["ibm:pay_as_you_go"]["time"]
    seconds = time_model["task_overhead_seconds"] + 100 * 1000 * (
        time_model["shot_overhead_seconds"] + duration
    )
    assert estimate.seconds == pytest.approx(seconds)


def test_dry_run_on_a_local_device_is_free() -> None:
    estimate = ibm.estimate(
        task("runtime_fake_manila", CircuitTask(BELL)), DEVICES["runtime_fake_manila"]
    )
    assert estimate.usd == 0.0 and 0 < estimate.seconds < 5


# --- 4. what check_request refuses -------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "run_type", "mitigate", "field", "code"),
    [
        ({"shots_per_second": 3}, "Run", False, "options.shots_per_second", "unsupported_option"),
        ({"resilience_level": 3}, "Run", False, "options.resilience_level", "invalid_option"),
        ({"resilience_level": "high"}, "Run", False, "options.resilience_level", "invalid_option"),
        ({"resilience_level": True}, "Run", False, "options.resilience_level", "invalid_option"),
        ({"resilience_level": 0}, "Run", True, "options.resilience_level", "invalid_option"),
        ({"optimization_level": 4}, "Run", False, "options.optimization_level", "invalid_option"),
        (
            {"twirling": {"enable": True}},
            "Run",
            False,
            "options.twirling.enable",
            "unsupported_option",
        ),
        (
            {"dynamical_decoupling": {"sequence_type": "XZ"}},
            "Run",
            False,
            "options.dynamical_decoupling.sequence_type",
            "invalid_option",
        ),
        (
            {"dynamical_decoupling": "yes"},
            "Run",
            False,
            "options.dynamical_decoupling",
            "invalid_option",
        ),
        ({"seed_simulator": 1}, "Run", False, "options.seed_simulator", "unsupported_option"),
        ({"default_shots": 100}, "Run", False, "options.default_shots", "unsupported_option"),
        ({}, "StatevectorRun", False, "run_type", "unsupported_option"),
    ],
)
def test_check_request_refuses_with_the_field_named(
    options: dict[str, Any], run_type: str, mitigate: bool, field: str, code: str
) -> None:
    with pytest.raises(ProviderError) as raised:
        ibm.check_request(DEVICES["ibm_brisbane"], run_type, options, mitigate)
    assert raised.value.field == field and raised.value.code == code
    assert raised.value.message.startswith(f"{field}:")


def test_check_request_accepts_the_supported_options() -> None:
    good = {
        "resilience_level": 2,
        "optimization_level": 3,
        "seed_transpiler": 1,
        "dynamical_decoupling": {"enable": True, "sequence_type": "XY4"},
        "twirling": True,
        "max_execution_time": 300,
    }
    ibm.check_request(DEVICES["ibm_brisbane"], "Run", good, True)
    ibm.check_request(DEVICES["runtime_fake_manila"], "Run", {**good, "seed_simulator": 4}, False)


# --- 5. options onto the primitives' options ---------------------------------------------------


def test_options_map_onto_the_estimators_options() -> None:
    device = DEVICES["ibm_brisbane"]
    parsed = ibm_options.parse_options(
        {
            "resilience_level": 2,
            "dynamical_decoupling": {"enable": True, "sequence_type": "XY4"},
            "twirling": {"enable_gates": True, "num_randomizations": 16},
            "max_execution_time": 120,
        },
        device,
    )
    mitigation = ibm_options.mitigation(parsed, False)
    options = primitives.primitive_options(
        "estimator", parsed, mitigation, shots=3000, job_tags=["qorch:job-1:estimator"]
    )
    assert type(options).__name__ == "EstimatorOptions"
    assert options.resilience_level == 2
    assert options.default_shots == 3000
    assert options.dynamical_decoupling.enable is True
    assert options.dynamical_decoupling.sequence_type == "XY4"
    assert options.twirling.enable_gates is True and options.twirling.num_randomizations == 16
    assert options.environment.job_tags == ["qorch:job-1:estimator"]
    assert options.max_execution_time == 120


def test_use_mitigation_maps_to_trex_and_to_measurement_twirling() -> None:
    device = DEVICES["ibm_brisbane"]
    parsed = ibm_options.parse_options({"dynamical_decoupling": True, "twirling": False}, device)
    mitigation = ibm_options.mitigation(parsed, True)
    estimator = primitives.primitive_options("estimator", parsed, mitigation, shots=100)
    assert estimator.resilience_level == 1  # TREX
    assert estimator.dynamical_decoupling.enable is True
    sampler = primitives.primitive_options("sampler", parsed, mitigation, shots=100)
    assert type(sampler).__name__ == "SamplerOptions"
    assert sampler.twirling.enable_measure is False  # the user's explicit choice wins
    plain = ibm_options.parse_options({}, device)
    sampler = primitives.primitive_options(
        "sampler", plain, ibm_options.mitigation(plain, True), shots=100
    )
    assert sampler.twirling.enable_measure is True and sampler.default_shots == 100
    unmitigated = primitives.primitive_options(
        "estimator", plain, ibm_options.mitigation(plain, False), shots=1
    )
    assert unmitigated.resilience_level == 0  # the SDK's default would be 1


# --- the QPU path, against a simulated IBM Quantum Platform ------------------------------------


def test_submit_poll_and_results_from_a_qpu(platform: FakeIBMQuantum) -> None:
    credentials = {"ibm_quantum_token": TOKEN, "ibm_quantum_instance": CRN}
    device = DEVICES["ibm_brisbane"]
    work = task(
        "ibm_brisbane",
        CircuitTask(BELL),
        CircuitTask(GHZ3, observables=(ObservableSpec(("ZZI",), (1.0,)),)),
        shots=1000,
        mitigate=True,
    )

    handle = ibm.submit(work, device, credentials)

    assert handle.provider == "ibm" and len(handle.ids) == 2  # a Sampler and an Estimator job
    assert [e["primitive"] for e in handle.data["jobs"]] == ["sampler", "estimator"]
    assert [c for c in platform.calls if c[0] == "run"] == [
        ("run", "ibm_brisbane", ("qorch:job-1:sampler",)),
        ("run", "ibm_brisbane", ("qorch:job-1:estimator",)),
    ]
    assert TOKEN not in json.dumps(handle.as_dict())
    assert platform.built == [(CRN, None)]  # type: ignore[attr-defined]

    # The answer was lost: the executor submits again, IBM must not run a second job.
    again = ibm.submit(work, device, credentials)
    assert again.ids == handle.ids and platform.count("run") == 2

    handle = ProviderJob.from_dict(json.loads(json.dumps(handle.as_dict())))  # as recorded
    assert ibm.poll(work, device, handle, credentials) is None
    outcome = None
    for _ in range(5):
        outcome = ibm.poll(work, device, handle, credentials)
        if outcome is not None:
            break
    assert outcome is not None
    bell, ghz = outcome.circuits
    assert bell.counts is not None and sum(bell.counts[0].values()) == 1000
    assert bell.distributions is not None
    assert bell.distributions[0].get("00", 0) + bell.distributions[0].get("11", 0) > 0.9
    assert ghz.expectation_values is not None and ghz.expectation_values[0][0] > 0.85
    assert outcome.metadata["provider_job_ids"] == list(handle.ids)
    assert outcome.metadata["mitigation"]["sampler"]["readout"]["circuits"] == [0]
    assert outcome.metadata["mitigation"]["estimator"]["measure_mitigation"] is True
    assert len(platform.built) == 1  # type: ignore[attr-defined]  # one service per process


def test_a_failed_or_cancelled_ibm_job_fails_the_task(platform: FakeIBMQuantum) -> None:
    credentials = {"ibm_quantum_token": TOKEN}
    device = DEVICES["ibm_torino"]
    platform.pending_polls = 0
    platform.fail_next = (1517, "Job failed: the circuit has too many instructions")
    failing = ibm.submit(task("ibm_torino", CircuitTask(BELL), token="a"), device, credentials)
    with pytest.raises(ProviderError) as raised:
        ibm.poll(task("ibm_torino", CircuitTask(BELL)), device, failing, credentials)
    assert raised.value.code == "provider_failed" and raised.value.provider_code == "1517"
    assert "too many instructions" in raised.value.message

    platform.pending_polls = 3
    running = ibm.submit(task("ibm_torino", CircuitTask(BELL), token="b"), device, credentials)
    ibm.cancel(device, running, credentials)
    assert ("job.cancel", running.ids[0]) in platform.calls
    with pytest.raises(ProviderError) as raised:
        ibm.poll(task("ibm_torino", CircuitTask(BELL)), device, running, credentials)
    assert raised.value.code == "provider_cancelled"
    ibm.cancel(device, running, credentials)  # already final: no error


def test_live_status_reports_queue_length(platform: FakeIBMQuantum) -> None:
    platform.backend_status = (True, 42, "active")
    status = ibm.live_status(
        [DEVICES["ibm_fez"], DEVICES["ibm_kingston"]],
        {"ibm_quantum_token": TOKEN},
    )
    assert status["ibm_fez"] == {"status": "online", "queue_length": 42, "detail": "active"}
    platform.backend_status = (False, 0, "maintenance")
    service.SERVICES.clear()
    status = ibm.live_status([DEVICES["ibm_fez"]], {"ibm_quantum_token": TOKEN})
    assert status["ibm_fez"]["status"] == "offline"


# --- error mapping -----------------------------------------------------------------------------


def _http_failure(status: int, headers: dict[str, str] | None = None) -> BaseException:
    """What the SDK raises when the API answers `status` (RequestsApiError from HTTPError)."""
    import requests
    from qiskit_ibm_runtime.api.exceptions import RequestsApiError

    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    try:
        try:
            raise requests.HTTPError(f"{status} error", response=response)
        except requests.HTTPError as cause:
            raise RequestsApiError(f"{status} Client Error", status) from cause
    except RequestsApiError as error:
        return error


def test_http_failures_map_to_our_codes() -> None:
    limited = errors.provider_error(_http_failure(429, {"Retry-After": "12"}), TOKEN, "submit")
    assert limited.code == "rate_limited" and limited.retryable and limited.retry_after == 12
    assert errors.provider_error(_http_failure(502), TOKEN, "poll").code == "provider_unavailable"
    assert errors.provider_error(_http_failure(401), TOKEN, "poll").code == "invalid_credentials"
    forbidden = errors.provider_error(_http_failure(403), TOKEN, "poll")
    assert forbidden.code == "invalid_credentials" and forbidden.provider_code == "403"
    rejected = errors.provider_error(_http_failure(422), TOKEN, "submit")
    assert rejected.code == "provider_rejected" and not rejected.retryable

    from qiskit_ibm_runtime.exceptions import IBMNotAuthorizedError

    refused = errors.provider_error(IBMNotAuthorizedError(f"bad {TOKEN}"), TOKEN, "poll")
    assert refused.code == "invalid_credentials" and TOKEN not in refused.message
