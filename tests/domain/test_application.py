"""The application's commands on a real SQLite event store: claiming, leases, cancelling."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qorch.domain.application import Qorch
from qorch.domain.execution import CircuitOutcome, ExecutionOutcome
from qorch.domain.job import Job, JobStatus
from qorch.domain.requests import RunRequest
from qorch.service import open_application
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
