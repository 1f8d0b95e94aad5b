"""The haiqu-sdk lists an experiment's jobs newest first, optionally of one job type (jobs not
submitted through the SDK are Run jobs) or of one circuit."""

from __future__ import annotations

from pathlib import Path
from typing import Unpack

from qorch.bootstrap import rebuilt_views
from qorch.domain.application import Qorch
from qorch.projections import jobs
from qorch.projections.sdk_jobs import JobFilters, list_job_ids
from tests.projections.test_batched_views import a_busy_log


def test_an_experiments_jobs_are_listed_by_type_and_by_circuit(app: Qorch, tmp_path: Path):
    a_busy_log(app)
    views, _ = rebuilt_views(app, tmp_path / "views.sqlite", from_scratch=True)
    db = views.connection()
    user_id, experiment_id = db.execute("SELECT user_id, id FROM experiments").fetchone()
    newest_first = [doc["id"] for doc in jobs.list_jobs(db, user_id, experiment_id=experiment_id)]

    def listed(**filters: Unpack[JobFilters]) -> list[str]:
        return list_job_ids(db, user_id, experiment_id, limit=100, **filters)

    hybrid = [job_id for job_id in newest_first if listed(job_type="Hybrid") == [job_id]]
    assert len(hybrid) == 1
    assert listed() == listed(job_type=None) == newest_first
    assert listed(job_type="Run") == [job_id for job_id in newest_first if job_id not in hybrid]
    assert listed(job_type="Sweep") == []
    for circuit_id in {c for doc in jobs.list_jobs(db, user_id) for c in doc["circuit_ids"]}:
        with_it = [
            job_id
            for job_id in newest_first
            if circuit_id in jobs.get_job(db, user_id, job_id)["circuit_ids"]  # type: ignore[index]
        ]
        assert listed(circuit_id=circuit_id) == with_it
    assert listed(job_type="Hybrid", circuit_id="elsewhere") == []
    assert listed()[:3] == list_job_ids(db, user_id, experiment_id, limit=3)
