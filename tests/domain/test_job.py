"""The Job aggregate on its own: a run request's life, one story per rule (no store, no SDK)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eventsourcing.application import Application
from pydantic_core import from_json

from qorch.domain.errors import Conflict
from qorch.domain.job import (
    CLOSING,
    FINAL_STATUSES,
    LEASING,
    OPENING,
    STATUS_AFTER,
    Job,
    JobStatus,
)
from tests.domain.factories import a_job

NOW = 1_000.0
LEASE = 30.0


def running_job(worker: str = "w1") -> Job:
    job = a_job()
    job.claim(worker, NOW, LEASE, claimant_dead=False)
    job.collect_events()
    return job


def recorded(job: Job) -> list[type]:
    return [type(event) for event in job.collect_events()]


def test_a_submitted_job_waits_in_the_queue_for_a_worker():
    job = a_job()

    assert recorded(job) == [Job.Submitted]
    assert job.status is JobStatus.QUEUED
    assert (job.worker_id, job.attempts, job.runs, job.provider_job) == (None, 0, 1, None)
    assert job.options == {"seed": 7}
    assert job.inputs() == {"parameters": None, "observables": None}
    assert job.client_token == str(job.id)


def test_a_worker_claims_a_job_renews_its_lease_and_records_the_results():
    job = a_job()

    job.claim("w1", NOW, LEASE, claimant_dead=False)
    assert (job.status, job.worker_id, job.lease_until, job.attempts) == (
        JobStatus.RUNNING,
        "w1",
        NOW + LEASE,
        1,
    )
    job.renew_lease("w1", NOW + 20, LEASE)
    assert job.lease_until == NOW + 20 + LEASE
    job.record_results("w1", {"quantum_results": [[{"00": 0.5, "11": 0.5}]]})

    assert job.status is JobStatus.DONE
    events = job.collect_events()
    assert [type(e) for e in events] == [Job.Submitted, Job.Claimed, Job.LeaseRenewed, Job.Executed]
    executed = events[-1]
    assert isinstance(executed, Job.Executed)
    assert from_json(executed.results_json) == {"quantum_results": [[{"00": 0.5, "11": 0.5}]]}


def test_a_second_worker_cannot_claim_a_job_whose_lease_is_held():
    job = running_job("w1")

    with pytest.raises(Conflict):
        job.claim("w2", NOW + LEASE - 1, LEASE, claimant_dead=False)

    assert (job.worker_id, job.attempts) == ("w1", 1)
    assert recorded(job) == []


def test_when_a_lease_lapses_another_worker_takes_the_job_over_and_the_first_is_fenced():
    job = running_job("w1")

    job.claim("w2", NOW + LEASE, LEASE, claimant_dead=False)

    assert (job.status, job.worker_id, job.attempts) == (JobStatus.RUNNING, "w2", 2)
    for late_step in (
        lambda: job.renew_lease("w1", NOW + LEASE + 1, LEASE),
        lambda: job.record_results("w1", {"quantum_results": []}),
        lambda: job.record_failure("w1", {"code": "late"}),
    ):
        with pytest.raises(Conflict):
            late_step()
    assert recorded(job) == [Job.Claimed]


def test_a_dead_claimant_is_taken_over_before_its_lease_ends():
    job = running_job("w1")

    job.claim("w2", NOW + 1, LEASE, claimant_dead=True)

    assert (job.worker_id, job.attempts) == ("w2", 2)


def test_a_worker_shutting_down_releases_its_job_and_any_worker_claims_it_at_once():
    job = running_job("w1")

    job.release("w1")
    assert (job.status, job.worker_id, job.lease_until) == (JobStatus.QUEUED, None, 0.0)
    with pytest.raises(Conflict):
        job.record_results("w1", {"quantum_results": []})

    job.claim("w2", NOW + 1, LEASE, claimant_dead=False)
    assert (job.status, job.worker_id, job.attempts) == (JobStatus.RUNNING, "w2", 2)
    assert recorded(job) == [Job.Released, Job.Claimed]


def test_a_job_cancelled_before_any_worker_claims_it_is_never_claimed():
    job = a_job()

    job.cancel("not needed")

    assert job.status is JobStatus.CANCELLED
    with pytest.raises(Conflict):
        job.claim("w1", NOW, LEASE, claimant_dead=False)
    with pytest.raises(Conflict):
        job.cancel("again")
    assert recorded(job) == [Job.Submitted, Job.Cancelled]


def test_a_job_cancelled_while_it_runs_refuses_the_workers_outcome():
    job = running_job("w1")

    job.cancel("changed my mind")

    assert job.status is JobStatus.CANCELLED
    for outcome in (
        lambda: job.record_results("w1", {"quantum_results": []}),
        lambda: job.record_estimate("w1", {"total": 1.0}),
        lambda: job.renew_lease("w1", NOW + 1, LEASE),
        lambda: job.release("w1"),
    ):
        with pytest.raises(Conflict):
            outcome()
    assert recorded(job) == [Job.Cancelled]


def test_a_worker_failure_ends_the_job_in_error():
    job = running_job("w1")

    job.record_failure("w1", {"code": "provider_error", "message": "boom"})

    assert job.status is JobStatus.ERROR
    with pytest.raises(Conflict):
        job.cancel("too late")


def test_a_job_that_cannot_start_is_rejected_but_a_final_one_is_left_alone():
    job = a_job()

    job.reject({"code": "unknown_device"})
    assert job.status is JobStatus.ERROR

    with pytest.raises(Conflict):
        job.reject({"code": "unknown_device"})
    assert recorded(job) == [Job.Submitted, Job.Failed]


def test_a_dry_run_ends_with_its_estimate():
    job = running_job("w1")

    job.record_estimate("w1", {"total": 1.5})

    assert job.status is JobStatus.DONE
    (estimated,) = job.collect_events()
    assert isinstance(estimated, Job.DryRunEstimated)
    assert estimated.estimate == {"total": 1.5}


def test_a_provider_job_is_recorded_once_and_only_by_the_worker_holding_the_claim():
    job = running_job("w1")
    provider_job = {"provider": "ibm", "ids": ["c1"]}

    with pytest.raises(Conflict):
        job.record_provider_job("w2", provider_job)
    job.record_provider_job("w1", provider_job)
    with pytest.raises(Conflict):
        job.record_provider_job("w1", {"provider": "ibm", "ids": ["c2"]})

    assert job.provider_job == provider_job
    assert job.status is JobStatus.RUNNING
    assert recorded(job) == [Job.ProviderJobRecorded]


@pytest.mark.parametrize(
    "step",
    [
        lambda job: job.renew_lease("w2", NOW, LEASE),
        lambda job: job.release("w2"),
        lambda job: job.record_provider_job("w2", {"provider": "ibm", "ids": []}),
        lambda job: job.record_estimate("w2", {}),
        lambda job: job.record_results("w2", {}),
        lambda job: job.record_failure("w2", {"code": "x"}),
    ],
    ids=["renew", "release", "provider job", "estimate", "results", "failure"],
)
def test_only_the_worker_holding_the_claim_may_act_on_a_job(step: Callable[[Job], None]):
    queued = a_job()
    held_by_another = running_job("w1")

    for job in (queued, held_by_another):
        job.collect_events()
        with pytest.raises(Conflict):
            step(job)
        assert recorded(job) == []


def test_a_finished_job_restarts_under_the_same_id_and_runs_again():
    job = running_job("w1")
    job.record_provider_job("w1", {"provider": "ibm", "ids": ["c1"]})
    job.record_results("w1", {"quantum_results": []})

    job.restart()

    assert (job.status, job.worker_id, job.runs, job.provider_job) == (
        JobStatus.SUBMITTED,
        None,
        2,
        None,
    )
    assert job.client_token == f"{job.id}-r2"
    job.claim("w2", NOW + 1, LEASE, claimant_dead=False)
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 2)


def test_a_job_still_queued_or_running_cannot_be_restarted():
    queued = a_job()
    running = running_job()

    for job in (queued, running):
        with pytest.raises(Conflict):
            job.restart()


def test_each_event_leads_to_the_status_the_rules_give_it():
    job = a_job()
    job.claim("w1", NOW, LEASE, claimant_dead=False)
    job.release("w1")
    job.claim("w2", NOW, LEASE, claimant_dead=False)
    job.record_failure("w2", {"code": "x"})
    job.restart()
    job.cancel("stop")
    replayed = None

    for event in job.collect_events():
        replayed = event.mutate(replayed)
        assert replayed is not None
        assert replayed.status is STATUS_AFTER[type(event)]


def test_opening_events_queue_a_job_closing_ones_end_it_and_leasing_ones_keep_it_running():
    assert {STATUS_AFTER[e] for e in OPENING} <= {JobStatus.QUEUED, JobStatus.SUBMITTED}
    assert {STATUS_AFTER[e] for e in CLOSING} <= FINAL_STATUSES
    assert [STATUS_AFTER.get(e) for e in LEASING] == [JobStatus.RUNNING, None]


def test_a_job_saved_in_the_in_memory_store_reads_back_as_it_was():
    app: Application = Application()
    job = a_job()
    job.claim("w1", NOW, LEASE, claimant_dead=False)
    job.record_results("w1", {"quantum_results": [[{"1": 1.0}]]})
    app.save(job)

    copy: Job = app.repository.get(job.id)

    assert isinstance(copy, Job)
    assert (copy.status, copy.worker_id, copy.attempts, copy.version) == (
        JobStatus.DONE,
        "w1",
        1,
        3,
    )
