"""The `status_changes` view: every status a job went through, at the log position of the event
that set it, for readers that must miss none (`GET /events`, webhook delivery)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qorch.domain.application import Qorch
from qorch.projections.database import ViewDatabase
from qorch.projections.jobs import get_job
from qorch.projections.projector import Projector
from qorch.projections.status_changes import StatusChange, changes_after
from tests.projections.test_batched_views import a_busy_log


@pytest.fixture
def views(app: Qorch, tmp_path: Path) -> Iterator[ViewDatabase]:
    database = ViewDatabase(tmp_path / "views.sqlite")
    yield database
    database.close()


def owner_of(views: ViewDatabase, job_id: str) -> str:
    row = views.connection().execute("SELECT user_id FROM jobs WHERE id = ?", (job_id,))
    return str(row.fetchone()[0])


def walk(changes: list[StatusChange]) -> list[str]:
    return [change.status for change in changes]


def test_every_status_a_job_went_through_is_kept_in_log_order(app: Qorch, views: ViewDatabase):
    job_ids = a_busy_log(app, follow=Projector(app, views))
    db = views.connection()
    done, cancelled, restarted, released, _, dry_run, *_ = job_ids
    user_id = owner_of(views, done)

    def of(job_id: str) -> list[StatusChange]:
        return changes_after(db, user_id, 0, job_id=job_id)

    assert walk(of(done)) == ["Queued", "Running", "Done"]
    assert walk(of(cancelled)) == ["Queued", "Cancelled"]
    assert walk(of(restarted)) == ["Queued", "Running", "Error", "Submitted", "Running", "Done"]
    assert walk(of(released)) == ["Queued", "Running", "Queued"]
    assert walk(of(dry_run)) == ["Queued", "Running", "Done"]

    failed = of(restarted)[2]
    assert failed.error_code == "provider_error"
    assert failed.job["error"] == {"code": "provider_error", "message": "x"}  # as recorded
    assert failed.job["finish_date"] == failed.job["status_date"] is not None
    running_again = of(restarted)[4]
    assert running_again.job["error"] is None and running_again.job["finish_date"] is None
    assert running_again.job["attempts"] == 2  # the job as it was then, not as it is now
    last = of(restarted)[-1].job
    assert last["status"] == "Done" and last["error"] is None and last["partial"] is False
    view = get_job(db, user_id, restarted, with_inputs=False)
    assert view is not None
    assert {field: last[field] for field in ("name", "shots", "device_id", "run_type")} == {
        field: view[field] for field in ("name", "shots", "device_id", "run_type")
    }
    assert last["finish_date"] == view["finish_date"]


def test_readers_resume_after_a_position_and_filter(app: Qorch, views: ViewDatabase):
    job_ids = a_busy_log(app, follow=Projector(app, views))
    db = views.connection()
    user_id = owner_of(views, job_ids[0])
    everything = changes_after(db, user_id, 0, limit=1000)
    positions = [change.position for change in everything]
    assert positions == sorted(set(positions))
    assert {change.job_id for change in everything} == set(job_ids[:8])  # the user's own jobs
    assert {change.user_id for change in everything} == {user_id}

    # Read a page at a time from the last position read: the same changes, none twice.
    paged: list[StatusChange] = []
    while page := changes_after(db, user_id, paged[-1].position if paged else 0, limit=5):
        paged.extend(page)
    assert paged == everything

    finished = changes_after(db, user_id, 0, statuses={"Done", "Error"}, limit=1000)
    assert finished == [change for change in everything if change.status in ("Done", "Error")]
    assert changes_after(db, user_id, 0, statuses=()) == []
    experiment_id = everything[0].experiment_id
    assert changes_after(db, user_id, 0, experiment_id=experiment_id, limit=1000) == everything
    assert changes_after(db, user_id, 0, experiment_id="elsewhere") == []
    assert changes_after(db, "someone else", 0, job_id=job_ids[0]) == []
