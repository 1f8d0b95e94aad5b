"""The jobs view built from a job's events on an in-memory SQLite database (no event store)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from qorch.domain.experiment import Experiment
from qorch.domain.job import Job, JobStatus
from qorch.projections import dashboard, experiments, jobs
from qorch.projections.batch import Batch
from qorch.projections.database import SCHEMA, stored_bytes
from qorch.projections.projector import project
from tests.domain.factories import a_job

NOW = 1_000.0
LEASE = 30.0


class Views:
    """The views of one user's experiment, fed the events a log would hand the projector."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.executescript(SCHEMA)
        self.position = 0
        # Events go through the mapper, as they do when read back from the log.
        self.mapper = Application[UUID]().mapper
        self.user_id = uuid4()
        self.experiment = Experiment(user_id=self.user_id, name="bell", description="", tags=[])
        self.apply(self.experiment)

    def apply(self, aggregate: Aggregate) -> None:
        """The aggregate's new events, applied as one batch."""
        batch = Batch(self.db)
        for event in aggregate.collect_events():
            read_back = self.mapper.to_domain_event(self.mapper.to_stored_event(event))
            self.position += 1
            project(read_back, self.position, batch)
        batch.flush()

    def submit(self, **overrides: object) -> Job:
        job = a_job(
            user_id=self.user_id,
            experiment_id=self.experiment.id,
            description="two qubits",
            inputs_json=Job.encode_inputs([[[0.5]]], None),
            has_parameters=True,
            **overrides,
        )
        self.apply(job)
        return job

    def job(self, job: Job) -> dict:
        doc = jobs.get_job(self.db, str(self.user_id), str(job.id))
        assert doc is not None
        return doc

    def timeline(self, job: Job) -> list[str]:
        return [entry["type"] for entry in self.job(job)["events"]]


@pytest.fixture
def views() -> Iterator[Views]:
    views = Views()
    yield views
    views.db.close()


def test_a_submitted_job_is_listed_as_queued_with_its_request(views: Views):
    job = views.submit()

    doc = views.job(job)
    assert doc["status"] == "Queued"
    assert (doc["name"], doc["device_id"], doc["shots"], doc["options"]) == (
        "bell",
        "aer_simulator",
        100,
        {"seed": 7},
    )
    assert (doc["parameters"], doc["observables"]) == ([[[0.5]]], None)
    assert (doc["run_date"], doc["finish_date"], doc["attempts"]) == (None, None, 0)
    assert views.timeline(job) == ["Submitted"]
    experiment = experiments.get_experiment(views.db, str(views.user_id), str(job.experiment_id))
    assert experiment is not None and experiment["jobs_count"] == 1
    assert stored_bytes(views.db, str(views.user_id)) == len(job.inputs_json)


def test_a_job_runs_and_its_results_are_readable_once_done(views: Views):
    job = views.submit()
    job.claim("w1", NOW, LEASE, claimant_dead=False)
    views.apply(job)

    running = views.job(job)
    assert (running["status"], running["attempts"]) == ("Running", 1)
    assert running["run_date"] is not None and running["finish_date"] is None
    assert running["events"][-1]["worker"] == "w1"

    job.renew_lease("w1", NOW + 10, LEASE)
    job.record_results("w1", {"quantum_results": [[{"00": 1.0}]]})
    views.apply(job)

    done = views.job(job)
    assert done["status"] == "Done" and done["finish_date"] is not None
    assert views.timeline(job) == ["Submitted", "Claimed", "Executed"]
    assert jobs.get_results(views.db, str(job.id)) == {"quantum_results": [[{"00": 1.0}]]}


def test_a_dry_run_shows_its_estimate_and_no_results(views: Views):
    job = views.submit(dry_run=True)
    job.claim("w1", NOW, LEASE, claimant_dead=False)
    job.record_estimate("w1", {"total_usd": 1.5})
    views.apply(job)

    doc = views.job(job)
    assert (doc["status"], doc["estimated_qpu_cost"]) == ("Done", {"total_usd": 1.5})
    assert jobs.get_results(views.db, str(job.id)) == {"quantum_results": []}


def test_a_failed_job_shows_its_error(views: Views):
    job = views.submit()
    job.claim("w1", NOW, LEASE, claimant_dead=False)
    job.record_failure("w1", {"code": "worker_crashed", "message": "died"})
    views.apply(job)

    doc = views.job(job)
    assert (doc["status"], doc["error"]) == ("Error", {"code": "worker_crashed", "message": "died"})
    assert doc["events"][-1]["code"] == "worker_crashed"
    assert doc["finish_date"] is not None


def test_a_cancelled_job_shows_why(views: Views):
    job = views.submit()
    job.cancel("not needed")
    views.apply(job)

    doc = views.job(job)
    assert doc["status"] == "Cancelled" and doc["finish_date"] is not None
    assert doc["events"][-1] == {
        "type": "Cancelled",
        "timestamp": doc["finish_date"],
        "reason": "not needed",
    }


def test_a_released_job_is_queued_again_until_another_worker_claims_it(views: Views):
    job = views.submit()
    job.claim("w1", NOW, LEASE, claimant_dead=False)
    job.release("w1")
    views.apply(job)
    assert views.job(job)["status"] == "Queued"

    job.claim("w2", NOW + 1, LEASE, claimant_dead=False)
    views.apply(job)

    doc = views.job(job)
    assert (doc["status"], doc["attempts"]) == ("Running", 2)
    assert views.timeline(job) == ["Submitted", "Claimed", "Released", "Claimed"]


def test_a_restarted_job_forgets_its_last_outcome(views: Views):
    job = views.submit()
    job.claim("w1", NOW, LEASE, claimant_dead=False)
    job.record_provider_job("w1", {"provider": "ibm", "ids": ["c1"], "token": "kept out"})
    views.apply(job)
    assert views.job(job)["provider_job"] == {"provider": "ibm", "ids": ["c1"]}

    job.record_failure("w1", {"code": "provider_error"})
    job.restart()
    views.apply(job)

    doc = views.job(job)
    assert (doc["status"], doc["finish_date"], doc["error"], doc["provider_job"]) == (
        "Submitted",
        None,
        None,
        None,
    )
    assert jobs.get_results(views.db, str(job.id)) is None


def test_the_view_shows_the_status_the_job_itself_has_after_every_event(views: Views):
    job = views.submit()
    steps = [
        lambda: job.claim("w1", NOW, LEASE, claimant_dead=False),
        lambda: job.renew_lease("w1", NOW + 10, LEASE),
        lambda: job.record_provider_job("w1", {"provider": "ibm", "ids": ["c1"]}),
        lambda: job.release("w1"),
        lambda: job.claim("w2", NOW + 20, LEASE, claimant_dead=False),
        lambda: job.record_estimate("w2", {"total_usd": 0.0}),
        lambda: job.restart(),
        lambda: job.claim("w3", NOW + 30, LEASE, claimant_dead=False),
        lambda: job.record_results("w3", {"quantum_results": []}),
        lambda: job.restart(),
        lambda: job.reject({"code": "unknown_device"}),
        lambda: job.restart(),
        lambda: job.cancel("enough"),
    ]

    for step in steps:
        step()
        views.apply(job)
        assert views.job(job)["status"] == job.status.value

    assert job.status is JobStatus.CANCELLED


def test_jobs_are_listed_by_status(views: Views):
    queued = views.submit(name="waits")
    cancelled = views.submit(name="dropped")
    cancelled.cancel("no")
    views.apply(cancelled)

    def names(status: str) -> list[str]:
        listed = jobs.list_jobs(views.db, str(views.user_id), status=status)
        return [doc["name"] for doc in listed]

    assert names("Queued") == [queued.name]
    assert names("Cancelled") == [cancelled.name]


def test_the_dashboard_stream_hears_of_every_visible_change_but_not_of_lease_renewals(
    views: Views,
):
    job = views.submit()
    job.claim("w1", NOW, LEASE, claimant_dead=False)
    views.apply(job)
    claimed_at = views.position

    job.renew_lease("w1", NOW + 10, LEASE)
    views.apply(job)
    assert dashboard.latest_change(views.db, str(views.user_id)) == claimed_at

    job.record_results("w1", {"quantum_results": []})
    views.apply(job)
    changes = dashboard.changed_jobs(views.db, str(views.user_id), after=claimed_at)
    assert [(position, doc["status"]) for position, doc in changes] == [(views.position, "Done")]
