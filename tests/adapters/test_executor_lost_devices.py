"""A job whose device is no longer in the catalogue when it is claimed (the server restarted
with other providers configured) fails with `unknown_device`, alone or in a batch, instead of
staying queued or taking the executor down."""

from __future__ import annotations

from uuid import UUID

import pytest

from qorch.domain.application import Qorch
from qorch.domain.job import Job, JobStatus
from qorch.domain.requests import RunRequest
from tests.adapters.test_executor_batches import Worker, executor_for, run_until_final
from tests.conftest import BELL_QASM2


@pytest.mark.anyio
@pytest.mark.parametrize("batch_size", [1, 8])
async def test_a_job_whose_device_left_the_catalogue_fails_as_unknown_device(
    app: Qorch, batch_size: int, monkeypatch: pytest.MonkeyPatch
):
    user, _ = app.register_user("ada")
    experiment = str(app.create_experiment(user, "gone").id)
    request = RunRequest(experiment_id=experiment, circuits_qasm=[BELL_QASM2], shots=10)
    jobs: list[UUID] = [app.submit_job(user, request).id for _ in range(3)]
    find_device = app.find_device
    monkeypatch.setattr(
        app,
        "find_device",
        lambda device_id: None if device_id == "aer_simulator" else find_device(device_id),
    )
    worker = Worker()

    await run_until_final(app, executor_for(app, worker, batch_size), jobs)

    for job_id in jobs:
        job = app.find_job(job_id)
        assert job is not None and job.status is JobStatus.ERROR
        failed = list(app.repository.event_store.get(job_id))[-1]
        assert isinstance(failed, Job.Failed)
        assert failed.error["code"] == "unknown_device"
        assert "left the catalogue" in failed.error["message"]
    assert worker.calls == []  # no job ran
