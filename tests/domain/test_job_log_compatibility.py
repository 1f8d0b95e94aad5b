"""Logs recorded before Job's events were declared as classes still replay, unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from qorch.domain.job import Job, JobStatus

JOB_ID = UUID("0b7a3a52-4a44-4f36-9d4b-3c1f6f0c2a11")
LOG = Path(__file__).with_name("job_events_recorded_by_name.txt")
ADDED_SINCE: dict[type, dict[str, Any]] = {
    Job.Executed: {"cost": None},
    Job.Failed: {"cost": None},
}
"""Fields events gained after this log was recorded (their upcasters add them)."""


def old_log() -> list[StoredEvent]:
    records = []
    for line in LOG.read_text().splitlines():
        if line.startswith("#"):
            continue
        topic, version, state = line.split(" ", 2)
        records.append(StoredEvent(JOB_ID, int(version), topic, state.encode()))
    return records


def test_a_job_recorded_with_events_declared_by_name_replays_to_its_last_state():
    app: Application[UUID] = Application()
    app.recorder.insert_events(old_log())

    job: Job = app.repository.get(JOB_ID)

    assert isinstance(job, Job)
    assert (job.status, job.runs, job.attempts, job.worker_id) == (
        JobStatus.CANCELLED,
        4,
        4,
        None,
    )
    assert job.version == 15
    assert job.actual_cost is None


def test_every_old_event_decodes_to_its_class_and_is_stored_again_byte_for_byte():
    app: Application[UUID] = Application()
    kinds = set()

    for record in old_log():
        event = app.mapper.to_domain_event(record)
        kinds.add(type(event))
        stored = app.mapper.to_stored_event(event)
        added = ADDED_SINCE.get(type(event))
        if added is None:
            assert stored == record
        else:  # stored again at its new version: the old state plus what the upcast added
            state = json.loads(stored.state)
            assert state.pop("class_version") == getattr(type(event), "class_version", 1) > 1
            assert state == {**json.loads(record.state), **added}

    assert kinds == {
        Job.Submitted,
        Job.Claimed,
        Job.LeaseRenewed,
        Job.ProviderJobRecorded,
        Job.Released,
        Job.DryRunEstimated,
        Job.Restarted,
        Job.Executed,
        Job.Failed,
        Job.Cancelled,
    }
