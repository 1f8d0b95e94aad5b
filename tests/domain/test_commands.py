"""The application's commands on the in-memory event store, with fake ports: no Qiskit (the
circuit facts and the device catalogue are fakes), no disk, no provider."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from typing import Any
from uuid import UUID

import pytest

from qorch.domain.application import Qorch, Submit
from qorch.domain.circuit import CircuitFacts
from qorch.domain.devices import Device
from qorch.domain.errors import Conflict, InvalidCircuit, NotFound, RequestError
from qorch.domain.execution import CircuitOutcome, ExecutionOutcome, ProviderError
from qorch.domain.job import Job, JobStatus
from qorch.domain.requests import RunRequest

SIMULATOR = Device("sim", "fake", "tests", "Simulator", qubits=4, simulator=True)
QPU = Device(
    "qpu",
    "fake",
    "tests",
    "QPU",
    qubits=4,
    simulator=False,
    remote=True,
    credentials=("ionq_api_key",),
)


def facts_of(source: str) -> CircuitFacts:
    """Circuits are lines of text here: 'bad' is refused, 'n=K' has K qubits (2 otherwise)."""
    if source.strip() == "bad":
        raise InvalidCircuit("line 1: not a circuit")
    qubits = int(source.split("n=")[1]) if "n=" in source else 2
    digest = hashlib.sha256(source.encode()).hexdigest()
    return CircuitFacts(source, "qasm2", digest, qubits, (), has_measurements=True)


def check_options(device: Device, run_type: str, options: dict[str, Any], mitigate: bool) -> None:
    if "color" in options:
        raise ProviderError(
            "unsupported_option", "options.color: not an option", field="options.color"
        )


class Holder:
    """Keeps credentials in memory, as the vault would keep them sealed."""

    def __init__(self) -> None:
        self.held: dict[UUID, dict[str, str]] = {}

    def hold(self, job_id: UUID, credentials: dict[str, str]) -> None:
        self.held[job_id] = credentials

    def destroy(self, job_id: UUID) -> None:
        self.held.pop(job_id, None)


@pytest.fixture
def app() -> Qorch:
    devices = {device.id: device for device in (SIMULATOR, QPU)}
    return Qorch(
        describe_circuit=facts_of,
        find_device=devices.get,
        check_options=check_options,
        credentials=Holder(),
    )


def ada_with_an_experiment(app: Qorch) -> tuple[UUID, str]:
    user_id, _ = app.register_user("ada")
    return user_id, str(app.create_experiment(user_id, "bells").id)


def test_a_submitted_job_waits_queued_and_its_circuit_is_stored_once(app: Qorch):
    ada, experiment = ada_with_an_experiment(app)
    request = RunRequest(experiment, circuits_qasm=["bell", "bell"], device_id="sim", shots=10)

    job = app.find_job(app.submit_job(ada, request).id)

    assert job is not None and job.status is JobStatus.QUEUED
    assert len(set(job.circuit_ids)) == 1 and len(job.circuit_ids) == 2
    again = app.find_job(app.submit_job(ada, request).id)
    assert again is not None and again.circuit_ids == job.circuit_ids


def test_bad_input_is_refused_naming_the_field_and_records_nothing(app: Qorch):
    ada, experiment = ada_with_an_experiment(app)
    before = app.recorder.max_notification_id()
    cases = {
        "device_id": RunRequest(experiment, circuits_qasm=["bell"], device_id="nowhere"),
        "circuits_qasm[0]": RunRequest(experiment, circuits_qasm=["bad"], device_id="sim"),
        "options.color": RunRequest(
            experiment, circuits_qasm=["bell"], device_id="sim", options={"color": "red"}
        ),
        "experiment_id": RunRequest("not-an-id", circuits_qasm=["bell"], device_id="sim"),
    }
    for field, request in cases.items():
        with pytest.raises(RequestError) as refused:
            app.submit_job(ada, request)
        assert refused.value.field == field
    assert app.recorder.max_notification_id() == before


def test_a_remote_run_holds_its_credentials_and_never_records_them(app: Qorch):
    ada, experiment = ada_with_an_experiment(app)
    secret = {"ionq_api_key": "k-SECRET-1"}
    with pytest.raises(RequestError, match="ionq_api_key is required"):
        app.submit_job(ada, RunRequest(experiment, circuits_qasm=["bell"], device_id="qpu"))
    dry = app.submit_job(
        ada, RunRequest(experiment, circuits_qasm=["bell"], device_id="qpu", dry_run=True)
    )

    real = app.submit_job(
        ada, RunRequest(experiment, circuits_qasm=["bell"], device_id="qpu", options=secret)
    )

    assert app.credentials.held == {real.id: secret}  # type: ignore[attr-defined]
    assert dry.id not in app.credentials.held  # type: ignore[attr-defined]
    recorded = [n.state for n in app.recorder.select_notifications(start=None, limit=100)]
    assert not any(b"k-SECRET-1" in state for state in recorded)


def test_a_repeated_submit_answers_the_first_job_and_a_changed_one_conflicts(app: Qorch):
    ada, experiment = ada_with_an_experiment(app)
    request = RunRequest(experiment, circuits_qasm=["bell"], device_id="sim")
    submit = Submit(key="explicit:k-1", fingerprint="body-1", now=time.time())

    first, repeated_first = app.submit_job_once(ada, request, submit)
    again, repeated_again = app.submit_job_once(ada, request, submit)

    assert (again.id, repeated_first, repeated_again) == (first.id, False, True)
    with pytest.raises(Conflict):
        app.submit_job_once(ada, request, Submit("explicit:k-1", "body-2", time.time()))


def test_one_worker_claims_runs_and_records_a_job_once(app: Qorch):
    ada, experiment = ada_with_an_experiment(app)
    job_id = app.submit_job(
        ada, RunRequest(experiment, circuits_qasm=["n=3"], device_id="sim", shots=5)
    ).id
    now = time.time()

    claim = app.claim_job(job_id, "worker-a", now, claimant_dead=False, lease_seconds=30)
    assert app.claim_job(job_id, "worker-b", now, claimant_dead=False, lease_seconds=30) is None
    assert claim is not None and claim.task.shots == 5 and claim.task.circuits[0].source == "n=3"

    outcome = ExecutionOutcome([CircuitOutcome(counts=[{"001": 5}], distributions=[{"001": 1.0}])])
    assert not app.record_results(job_id, "worker-b", outcome)  # not the claimant
    assert app.record_results(job_id, "worker-a", outcome)
    job = app.find_job(job_id)
    assert job is not None and job.status is JobStatus.DONE
    events = [type(event) for event in app.repository.event_store.get(job_id)]
    assert events == [Job.Submitted, Job.Claimed, Job.Executed]


def test_a_user_cannot_touch_another_users_job(app: Qorch):
    ada, experiment = ada_with_an_experiment(app)
    job_id = app.submit_job(ada, RunRequest(experiment, circuits_qasm=["bell"], device_id="sim")).id
    bob, _ = app.register_user("bob")

    with pytest.raises(NotFound):
        app.cancel_job(bob, str(job_id))
    app.cancel_job(ada, str(job_id))
    job = app.find_job(job_id)
    assert job is not None and job.status is JobStatus.CANCELLED


def test_the_domain_imports_no_sdk_and_no_web_code():
    probe = (
        "import sys, qorch.domain.application, qorch.domain.ports; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'qiskit', 'qiskit_aer', 'braket', 'boto3', 'qiskit_ionq', 'qiskit_ibm_runtime', "
        "'starlette', 'mcp', 'anyio'}))"
    )
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "[]"
