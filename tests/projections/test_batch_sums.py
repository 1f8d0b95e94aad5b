"""A batch adds up what its runs cost before writing the usage view once per user, day and
device, and formats each event's timestamp once for every view that writes it: the views are
the same as with one write per run, however the log is cut into batches."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from qorch.domain.application import Qorch
from qorch.domain.budget import Budget
from qorch.domain.execution import ActualCost
from qorch.domain.experiment import Experiment
from qorch.domain.job import Job
from qorch.projections.batch import timestamp_text
from qorch.projections.database import ViewDatabase
from qorch.projections.projector import Projector
from qorch.projections.usage import _day, usage_rows
from tests.domain.factories import a_job

LEASE = 30.0


def paid_runs(app: Qorch) -> str:
    """One user's runs on two devices, some billed, one restarted and run again, one failed."""
    user_id, _ = app.register_user("payer")
    experiment = Experiment(user_id=user_id, name="costs", description="", tags=[])
    app.save(experiment)
    budget = Budget(user_id=user_id)
    budget.set_limit(100.0, "month", "ionq")
    now = time.time()
    for number in range(9):
        device = "ionq_aria_1" if number % 3 else "aer_simulator"
        job = a_job(user_id=user_id, experiment_id=experiment.id, device_id=device, shots=100)
        app.save(job)
        if device != "aer_simulator":
            budget.reserve(job.id, 0.5 + number, "ionq", now)
            app.save(budget)
        job.claim("w", now, LEASE, claimant_dead=False)
        bill = ActualCost(usd=0.25 * number, source="reported", tasks=1 + number, shots=50)
        if number == 4:
            job.record_failure("w", {"code": "provider_failed", "message": "x"}, bill)
        else:
            job.record_results("w", {"quantum_results": [{"0": 1.0}]}, bill if number % 3 else None)
        app.save(job)
        if number == 2:
            job.restart()
            job.claim("w", now + 1, LEASE, claimant_dead=False)
            job.record_results("w", {"quantum_results": [{"0": 1.0}]}, bill)
            app.save(job)
    return str(user_id)


def views_of(app: Qorch, path: Path, page_size: int) -> ViewDatabase:
    views = ViewDatabase(path)
    Projector(app, views).rebuild(page_size)
    return views


def test_runs_summed_in_one_batch_leave_the_rows_runs_counted_one_at_a_time_leave(
    app: Qorch, tmp_path: Path
):
    user_id = paid_runs(app)

    one_at_a_time = views_of(app, tmp_path / "one.sqlite", page_size=1)
    one_batch = views_of(app, tmp_path / "all.sqlite", page_size=5000)

    assert one_batch.dump() == one_at_a_time.dump()
    rows = usage_rows(one_batch.connection(), user_id, "2000-01-01", "2999-12-31")
    by_device = {row["device_id"]: row for row in rows}
    assert by_device["aer_simulator"]["jobs"] == 3
    assert by_device["ionq_aria_1"]["jobs"] == 7  # six runs, one of them twice
    assert by_device["ionq_aria_1"]["tasks"] == sum(1 + n for n in (1, 2, 2, 4, 5, 7, 8))
    assert by_device["ionq_aria_1"]["actual_usd"] == pytest.approx(0.25 * 29)


def test_each_event_gets_its_own_timestamp_text_even_when_events_alternate():
    moments = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=n) for n in range(3)]
    events = [SimpleNamespace(timestamp=moment) for moment in moments]
    for event in [*events, *reversed(events), events[0], events[0]]:
        assert timestamp_text(event) == event.timestamp.isoformat()


def test_a_run_counts_on_its_utc_day_whatever_zone_its_timestamp_was_read_in():
    late = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2)))  # 01:30 UTC
    event = SimpleNamespace(timestamp=late)
    assert _day(event) == "2026-03-02"  # type: ignore[arg-type]
    assert _day(SimpleNamespace(timestamp=late.astimezone(UTC))) == "2026-03-02"  # type: ignore[arg-type]


def test_events_recorded_in_utc_are_read_back_in_utc(app: Qorch):
    """What `_day` takes its quick way for: a recorded timestamp's text ends in +00:00."""
    user_id, _ = app.register_user("clock")
    job = a_job(user_id=user_id)
    app.save(job)
    [notification] = app.recorder.select_notifications(
        start=app.recorder.max_notification_id() or 0, limit=1
    )
    event = app.mapper.to_domain_event(notification)
    assert isinstance(event, Job.Submitted)
    assert timestamp_text(event).endswith("+00:00")
