"""The read models as eventsourcing's Projection over a TrackingRecorder: a view and the log
position it reflects are written together, or not at all."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import Tracking

from qorch.domain.experiment import Experiment
from qorch.projections import dashboard
from qorch.projections.database import ViewDatabase
from qorch.projections.experiments import list_experiments
from qorch.projections.projector import Views


def an_experiment_created(name: str) -> tuple[str, object]:
    user_id = uuid4()
    (created,) = Experiment(user_id=user_id, name=name, description="", tags=[]).collect_events()
    return str(user_id), created


def test_an_event_and_the_position_it_reached_are_recorded_together(tmp_path: Path):
    views = ViewDatabase(tmp_path / "views.sqlite")
    user_id, created = an_experiment_created("bell")

    with views.writing():
        Views(views).process_event(created, Tracking("qorch", 7))

    assert views.max_tracking_id("qorch") == 7
    assert views.has_tracking_id("qorch", 7) and not views.has_tracking_id("qorch", 8)
    assert [doc["name"] for doc in list_experiments(views.connection(), user_id)] == ["bell"]


def test_a_batch_that_fails_leaves_neither_the_view_nor_the_position(tmp_path: Path):
    views = ViewDatabase(tmp_path / "views.sqlite")
    user_id, created = an_experiment_created("lost")

    with pytest.raises(sqlite3.OperationalError), views.writing() as db:
        Views(views).process_event(created, Tracking("qorch", 3))
        db.execute("SELECT * FROM no_such_table")

    assert views.max_tracking_id("qorch") is None
    assert list_experiments(views.connection(), user_id) == []


def test_views_tracked_under_their_earlier_name_are_not_projected_again(tmp_path: Path):
    path = tmp_path / "views.sqlite"
    earlier = sqlite3.connect(path)
    earlier.execute("CREATE TABLE tracking (name TEXT PRIMARY KEY, position INTEGER NOT NULL)")
    earlier.execute("INSERT INTO tracking VALUES ('views', 42)")
    earlier.commit()
    earlier.close()

    assert ViewDatabase(path).max_tracking_id("qorch") == 42


def test_a_views_file_that_kept_job_positions_in_a_table_of_their_own_keeps_them(tmp_path: Path):
    path = tmp_path / "views.sqlite"
    earlier = sqlite3.connect(path)
    earlier.executescript(
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY, user_id TEXT NOT NULL, experiment_id TEXT NOT NULL,
            status TEXT NOT NULL, device_id TEXT NOT NULL, created TEXT NOT NULL,
            doc TEXT NOT NULL);
        CREATE TABLE job_changes (
            job_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, position INTEGER NOT NULL);
        INSERT INTO jobs VALUES ('j1', 'u', 'e', 'Done', 'd', '2026', '{"id": "j1"}');
        INSERT INTO jobs VALUES ('j2', 'u', 'e', 'Queued', 'd', '2026', '{"id": "j2"}');
        INSERT INTO job_changes VALUES ('j1', 'u', 5), ('j2', 'u', 9);
        """
    )
    earlier.commit()
    earlier.close()

    views = ViewDatabase(path)
    db = views.connection()

    assert dashboard.latest_change(db, "u") == 9
    assert [(position, job["id"]) for position, job in dashboard.changed_jobs(db, "u", 0)] == [
        (5, "j1"),
        (9, "j2"),
    ]
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "job_changes" not in tables
    assert ViewDatabase(path).dump() == views.dump()  # opened again: nothing left to migrate
