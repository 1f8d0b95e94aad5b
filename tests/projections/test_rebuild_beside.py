"""`qorch replay` fills its new views file in several processes (two projectors sharing the jobs,
a writer): the views equal those the projector builds alone, however the log is cut into
batches, and anything unusual sends the rebuild back to the projector alone."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import StoredEvent

from qorch.bootstrap import open_application, rebuilt_views
from qorch.domain.application import Qorch
from qorch.domain.execution import ActualCost, CircuitOutcome, ExecutionOutcome
from qorch.domain.requests import RunRequest
from qorch.projections import rebuild
from qorch.projections.database import ViewDatabase
from qorch.projections.projector import set_aside_events
from qorch.projections.rebuild import rebuild_beside
from qorch.projections.view_writer import WriterFailed, WriterProcess
from qorch.settings import Settings
from tests.conftest import BELL_QASM2
from tests.projections.test_batched_views import a_busy_log, applied


def paid_jobs(app: Qorch) -> list[str]:
    """A user with a budget whose jobs on a paid device ran: each submit reserves the job's
    estimate (an event of the budget, which changes the job's document), each outcome is
    billed."""
    user_id, _ = app.register_user("payer")
    experiment = str(app.create_experiment(user_id, "paid").id)
    app.set_budget(user_id, 1000.0, "month", "ionq")
    bell = CircuitOutcome(distributions=[{"00": 1.0}], counts=[{"00": 100}])
    cost = ActualCost(usd=1.0, source="reported", tasks=1, shots=100)
    job_ids = []
    for _ in range(12):
        request = RunRequest(
            experiment,
            circuits_qasm=[BELL_QASM2],
            device_id="ionq_aria_1",
            shots=100,
            options={"ionq_api_key": "k"},
        )
        job_id = app.submit_job(user_id, request).id
        assert app.claim_job(job_id, "w", time.time(), False, 30) is not None
        app.record_results(job_id, "w", ExecutionOutcome([bell], cost=cost))
        job_ids.append(str(job_id))
    return job_ids


def beside(app: Qorch, path: Path, page_size: int = 5000) -> dict[str, list[tuple[object, ...]]]:
    assert rebuild_beside(app, path, page_size) == app.recorder.max_notification_id()
    views = ViewDatabase(path)
    dump = views.dump()
    views.close()
    return dump


def test_two_projectors_and_a_writer_build_the_views_the_projector_builds_alone(
    app: Qorch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    job_ids = a_busy_log(app) + paid_jobs(app) + a_busy_log(app)
    assert {int(job_id.replace("-", ""), 16) % 2 for job_id in job_ids} == {0, 1}  # both share
    alone = applied(app, tmp_path / "alone.sqlite", page_size=1)
    assert any(row[1] for row in alone["job_usage"] if row[6])  # estimates were reserved

    assert beside(app, tmp_path / "one-batch.sqlite") == alone
    # Batches that cut jobs' events apart, and too few documents carried from batch to batch:
    # what a batch reads of earlier ones comes from the writer.
    monkeypatch.setattr(rebuild, "CARRIED", 4)
    assert beside(app, tmp_path / "by-7.sqlite", page_size=7) == alone


def test_without_a_log_file_to_fork_over_one_projector_and_the_writer_build_them(
    app: Qorch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    a_busy_log(app)
    monkeypatch.setattr(rebuild, "pages_for_a_fork", lambda app: None)
    assert beside(app, tmp_path / "views.sqlite", page_size=7) == applied(
        app, tmp_path / "alone.sqlite", page_size=1
    )


def test_an_empty_log_gives_empty_views(app: Qorch, tmp_path: Path):
    empty = applied(app, tmp_path / "alone.sqlite", page_size=1)
    assert rebuild_beside(app, tmp_path / "views.sqlite") == 0
    assert ViewDatabase(tmp_path / "views.sqlite").dump() == empty


def test_an_unreadable_job_event_in_the_second_projectors_part_sends_the_rebuild_back(
    app: Qorch, tmp_path: Path
):
    job_ids = a_busy_log(app)
    odd_job = next(uuid.UUID(job_id) for job_id in job_ids if uuid.UUID(job_id).int % 2)
    unreadable = StoredEvent(
        originator_id=odd_job,
        originator_version=99,
        topic="qorch.domain.job:Job.Claimed",
        state=b'{"worker_id":{"_type_":"nope","_data_":1}}',
    )
    app.recorder.insert_events([unreadable])
    at = app.recorder.max_notification_id()
    a_busy_log(app)

    assert rebuild_beside(app, tmp_path / "beside.sqlite") is None
    views, position = rebuilt_views(app, tmp_path / "rebuilt.sqlite", from_scratch=True)
    assert [aside["position"] for aside in set_aside_events(views.connection())] == [at]
    assert views.dump() == applied(app, tmp_path / "alone.sqlite", page_size=1)
    assert position == app.recorder.max_notification_id()


def test_a_writer_that_cannot_write_answers_the_error_and_commits_nothing(tmp_path: Path):
    path = tmp_path / "views.sqlite"
    ViewDatabase(path).close()
    writer = WriterProcess(str(path), drop=[])
    try:
        writer.first.write([("INSERT INTO tracking (name, position) VALUES (?, ?)", [("a", 1)])])
        writer.first.write([("INSERT INTO nowhere VALUES (?)", [(1,)])])
        with pytest.raises(WriterFailed, match="no such table: nowhere"):
            writer.first.finish("")
    finally:
        writer.close()
    assert ViewDatabase(path).dump()["set_aside"] == []
    assert ViewDatabase(path).max_tracking_id("a") is None


def test_a_second_projector_that_stops_before_it_is_done_fails_the_rebuild(tmp_path: Path):
    path = tmp_path / "views.sqlite"
    ViewDatabase(path).close()
    writer = WriterProcess(str(path), drop=[], others=1)
    try:
        writer.others[0].close()  # as if its process had died
        with pytest.raises(WriterFailed, match="stopped before it was done"):
            writer.first.tallies()
    finally:
        writer.close()


def test_jobs_named_by_an_experiment_created_after_them_send_the_rebuild_back(
    app: Qorch, tmp_path: Path
):
    """(Only an edited or imported log holds such an order.) One projector leaves an experiment
    that did not exist yet untouched by its jobs; the second projector's tally must not add them."""
    user_id, _ = app.register_user("ada")
    experiment = app.create_experiment(user_id, "late")
    for _ in range(8):
        app.submit_job(user_id, RunRequest(str(experiment.id), circuits_qasm=[BELL_QASM2]))
    log = list(app.recorder.select_notifications(1, 1000))
    moved = [n for n in log if n.originator_id == experiment.id]
    edited = open_application(Settings(data_dir=tmp_path / "edited"))
    try:
        edited.recorder.insert_events(
            [
                StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
                for n in [*(n for n in log if n.originator_id != experiment.id), *moved]
            ]
        )
        assert rebuild_beside(edited, tmp_path / "beside.sqlite") is None
        views, _ = rebuilt_views(edited, tmp_path / "rebuilt.sqlite", from_scratch=True)
        assert views.dump() == applied(edited, tmp_path / "alone.sqlite", page_size=1)
    finally:
        edited.close()


def test_a_second_projector_that_cannot_start_sends_the_rebuild_back(
    app: Qorch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    a_busy_log(app)

    def no_fork() -> int:
        raise BlockingIOError("Resource temporarily unavailable")

    monkeypatch.setattr(rebuild.os, "fork", no_fork)
    assert rebuild_beside(app, tmp_path / "beside.sqlite") is None
    views, _ = rebuilt_views(app, tmp_path / "rebuilt.sqlite", from_scratch=True)
    assert views.dump() == applied(app, tmp_path / "alone.sqlite", page_size=1)
