"""The application's commands on a real SQLite event store: claiming, leases, cancelling."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qorch.bootstrap import open_application
from qorch.domain.application import Qorch
from qorch.domain.errors import RequestError
from qorch.domain.execution import CircuitOutcome, ExecutionOutcome, ProviderJob
from qorch.domain.job import Job, JobStatus
from qorch.domain.requests import RunRequest
from qorch.settings import Settings
from tests.conftest import BELL_QASM2


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Qorch]:
    application = open_application(Settings(data_dir=tmp_path))
    yield application
    application.close()


def submitted_job(app: Qorch, **overrides: object) -> Job:
    user_id, _ = app.register_user("ada")
    experiment = app.create_experiment(user_id, "exp")
    request = RunRequest(
        experiment_id=str(experiment.id),
        circuits_qasm=[BELL_QASM2],
        **overrides,  # type: ignore[arg-type]
    )
    recorded = app.submit_job(user_id, request)
    return app.repository.get(recorded.id)


def outcome() -> ExecutionOutcome:
    return ExecutionOutcome([CircuitOutcome(distributions=[{"00": 1.0}], counts=[{"00": 4}])])


def test_only_one_of_many_concurrent_workers_claims_a_job(app: Qorch):
    job = submitted_job(app)
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def try_claim(worker: str) -> None:
        barrier.wait()
        if app.claim_job(job.id, worker, time.time(), False, 30) is not None:
            winners.append(worker)

    threads = [threading.Thread(target=try_claim, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(winners) == 1
    assert app.repository.get(job.id).attempts == 1


def test_an_expired_lease_lets_another_worker_take_over_and_fences_the_first(app: Qorch):
    job = submitted_job(app)
    now = time.time()
    assert app.claim_job(job.id, "first", now, False, lease_seconds=10) is not None
    assert app.claim_job(job.id, "second", now + 5, False, lease_seconds=10) is None

    assert app.claim_job(job.id, "second", now + 11, False, lease_seconds=10) is not None
    assert app.record_results(job.id, "first", outcome()) is False
    assert app.renew_lease(job.id, "first", now + 12, 10) is False
    assert app.record_results(job.id, "second", outcome()) is True
    assert app.repository.get(job.id).status is JobStatus.DONE


def test_a_dead_claimant_is_taken_over_before_its_lease_ends(app: Qorch):
    job = submitted_job(app)
    now = time.time()
    app.claim_job(job.id, "crashed", now, False, lease_seconds=300)
    assert app.claim_job(job.id, "restarted", now + 1, True, lease_seconds=300) is not None


def test_a_cancelled_job_is_never_claimed(app: Qorch):
    job = submitted_job(app)
    app.cancel_job(job.user_id, str(job.id))
    assert app.claim_job(job.id, "w", time.time(), False, 30) is None
    assert app.repository.get(job.id).status is JobStatus.CANCELLED


def test_the_claimed_task_carries_sources_and_canonical_shapes(app: Qorch):
    job = submitted_job(app, shots=77, options={"seed_simulator": 3})
    claim = app.claim_job(job.id, "w", time.time(), False, 30)
    assert claim is not None
    assert claim.task.shots == 77
    assert claim.task.options == {"seed_simulator": 3}
    assert claim.task.circuits[0].source == BELL_QASM2
    assert claim.task.circuits[0].parameter_sets is None


def test_credentials_in_options_are_never_recorded(app: Qorch):
    job = submitted_job(
        app, options={"ionq_api_key": "very-secret", "my_token": "also-secret", "seed_simulator": 1}
    )
    assert job.options == {"seed_simulator": 1}
    assert job.credentials_supplied == ["ionq_api_key", "my_token"]
    stored = b"".join(n.state for n in app.recorder.select_notifications(start=None, limit=100))
    assert b"secret" not in stored


def test_keys_are_stored_only_as_hashes(app: Qorch):
    _, key = app.register_user("grace")
    stored = b"".join(n.state for n in app.recorder.select_notifications(start=None, limit=100))
    assert key.encode() not in stored
    assert app.authenticate(key) is not None
    assert app.authenticate(key + "x") is None


# --- provider credentials ---


def remote_request(app: Qorch, **overrides: object) -> tuple[object, RunRequest]:
    user_id, _ = app.register_user("grace")
    experiment = app.create_experiment(user_id, "exp")
    fields: dict[str, object] = {
        "experiment_id": str(experiment.id),
        "circuits_qasm": [BELL_QASM2],
        "device_id": "ionq_aria_1",
        **overrides,
    }
    return user_id, RunRequest(**fields)  # type: ignore[arg-type]


def test_a_real_run_on_a_qpu_needs_its_providers_credentials(app: Qorch):
    user_id, request = remote_request(app, options={})
    with pytest.raises(RequestError) as refused:
        app.submit_job(user_id, request)  # type: ignore[arg-type]
    assert refused.value.field == "options"
    assert "ionq_api_key is required to run on ionq_aria_1" in str(refused.value)


def test_a_dry_run_needs_none_and_holds_none(app: Qorch):
    user_id, request = remote_request(app, options={"ionq_api_key": "k-1"}, dry_run=True)
    recorded = app.submit_job(user_id, request)  # type: ignore[arg-type]
    job: Job = app.repository.get(recorded.id)
    assert job.credentials_supplied == ["ionq_api_key"]
    assert app.credentials.open(job.id) is None  # type: ignore[attr-defined]


def test_credentials_are_held_for_an_accepted_job_and_never_recorded(app: Qorch):
    user_id, request = remote_request(app, options={"ionq_api_key": "k-SECRET"})
    recorded = app.submit_job(user_id, request)  # type: ignore[arg-type]
    assert app.credentials.open(recorded.id) == {"ionq_api_key": "k-SECRET"}  # type: ignore[attr-defined]
    events = app.recorder.select_notifications(start=1, limit=100)
    assert not [e for e in events if b"k-SECRET" in e.state]


def test_credentials_are_not_kept_when_the_job_is_not_recorded(app: Qorch, monkeypatch):
    user_id, request = remote_request(app, options={"ionq_api_key": "k-SECRET"})

    def fail(*aggregates: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(app, "save", fail)
    with pytest.raises(OSError):
        app.submit_job(user_id, request)  # type: ignore[arg-type]
    assert app.credentials.held_jobs() == []  # type: ignore[attr-defined]


def test_a_job_on_a_provider_records_its_provider_job_once_and_restarts_with_a_new_token(
    app: Qorch,
):
    user_id, request = remote_request(app, options={"ionq_api_key": "k-1"})
    recorded = app.submit_job(user_id, request)  # type: ignore[arg-type]
    claim = app.claim_job(recorded.id, "w1", time.time(), False, 30)
    assert claim is not None and claim.provider_job is None
    assert claim.task.client_token == str(recorded.id)
    handle = ProviderJob("ionq", ("ionq-job-1",), {"shape": 1})
    assert app.record_provider_job(recorded.id, "w1", handle)
    assert not app.record_provider_job(recorded.id, "w1", handle)  # never a second one

    # Another worker taking over after a crash re-attaches instead of submitting again.
    retaken = app.claim_job(recorded.id, "w2", time.time() + 60, False, 30)
    assert retaken is not None and retaken.provider_job == handle
    app.record_failure(recorded.id, "w2", {"code": "provider_failed", "message": "x"})

    with pytest.raises(RequestError):  # a restart on a QPU needs the credentials again
        app.restart_job(user_id, str(recorded.id))  # type: ignore[arg-type]
    app.restart_job(user_id, str(recorded.id), {"ionq_api_key": "k-2"})  # type: ignore[arg-type]
    again = app.claim_job(recorded.id, "w3", time.time(), False, 30)
    assert again is not None and again.provider_job is None
    assert again.task.client_token == f"{recorded.id}-r2"
    assert app.credentials.open(recorded.id) == {"ionq_api_key": "k-2"}  # type: ignore[attr-defined]


def test_the_outcome_of_a_claim_made_here_reads_nothing_again(
    app: Qorch, monkeypatch: pytest.MonkeyPatch
):
    job = submitted_job(app)
    assert app.claim_job(job.id, "w", time.time(), False, 30) is not None
    reads: list[object] = []
    select_events = app.events.recorder.select_events

    def counted(originator_id: object, **options: object) -> object:
        reads.append(originator_id)
        return select_events(originator_id, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(app.events.recorder, "select_events", counted)

    assert app.record_results(job.id, "w", outcome()) is True
    assert reads == []
    monkeypatch.undo()
    assert app.repository.get(job.id).status is JobStatus.DONE


def test_a_job_taken_over_elsewhere_since_its_claim_here_is_never_overwritten(
    app: Qorch, tmp_path: Path
):
    job = submitted_job(app)
    now = time.time()
    assert app.claim_job(job.id, "first", now, False, lease_seconds=10) is not None
    elsewhere = open_application(Settings(data_dir=tmp_path))  # another process's application
    try:
        assert elsewhere.claim_job(job.id, "second", now + 11, False, 10) is not None

        # The claim kept here names "first"; the store, read again, says "second" holds it.
        assert app.renew_lease(job.id, "second", now + 12, 10) is True
        assert app.record_results(job.id, "first", outcome()) is False
        assert app.record_results(job.id, "second", outcome()) is True
    finally:
        elsewhere.close()
    types = [type(event).__name__ for event in app.events.get(job.id)]
    assert types[-3:] == ["Claimed", "LeaseRenewed", "Executed"]
    assert app.repository.get(job.id).worker_id == "second"


def test_an_outcome_on_a_kept_claim_loses_to_a_change_made_elsewhere_meanwhile(
    app: Qorch, tmp_path: Path
):
    job = submitted_job(app)
    now = time.time()
    assert app.claim_job(job.id, "first", now, False, lease_seconds=10) is not None
    elsewhere = open_application(Settings(data_dir=tmp_path))
    try:
        assert elsewhere.claim_job(job.id, "second", now + 11, False, 10) is not None
        assert app.record_results(job.id, "first", outcome()) is False
    finally:
        elsewhere.close()
    assert app.repository.get(job.id).status is JobStatus.RUNNING
