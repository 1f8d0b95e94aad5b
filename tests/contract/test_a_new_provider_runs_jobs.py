"""A provider added with one registry line runs jobs end to end: the request is checked by it,
the credentials are held for it, the executor submits, records and polls without knowing it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from qorch.adapters.executor import Executor
from qorch.adapters.providers import PACKAGES, Registry
from qorch.bootstrap import open_application, open_catalogue
from qorch.domain.errors import RequestError
from qorch.domain.job import Job, JobStatus
from qorch.domain.requests import RunRequest
from tests.conftest import settings_for
from tests.contract.echo.provider import SECRET_PREFIX

REGISTRY_WITH_ECHO = {**PACKAGES, "echo": "tests.contract.echo"}
FLIP_QUBIT_0 = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2]; x q[0]; measure q -> c;'


async def in_this_process(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


@pytest.mark.anyio
async def test_a_job_on_a_provider_added_with_one_line_runs_to_done(tmp_path: Path):
    settings = settings_for(tmp_path)
    registry = Registry(names=("local", "echo"), packages=REGISTRY_WITH_ECHO)
    app = open_application(settings, open_catalogue(settings, registry))
    user_id, _ = app.register_user("ada")
    experiment = app.create_experiment(user_id, "echo")
    request = RunRequest(
        experiment_id=str(experiment.id),
        circuits_qasm=[FLIP_QUBIT_0],
        device_id="echo_remote",
        shots=100,
        options={"echo_token": SECRET_PREFIX + "ada"},
    )
    with pytest.raises(RequestError, match="no_such_option"):  # the provider checks the request
        app.submit_job(user_id, replace(request, options={"no_such_option": 1}))
    job_id = app.submit_job(user_id, request).id

    executor = Executor(
        app,
        concurrency=1,
        lease_seconds=5,
        poll_interval=0.05,
        run_in_worker=in_this_process,
        vault=app.credentials,  # type: ignore[arg-type]  # the vault open_application made
        registry=registry,
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(executor.run)
        deadline = time.monotonic() + 30
        while app.find_job(job_id).status is not JobStatus.DONE:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the echo job did not finish"
            await anyio.sleep(0.05)
        tg.cancel_scope.cancel()

    events = [type(event) for event in app.repository.event_store.get(job_id)]
    assert Job.ProviderJobRecorded in events and events[-1] is Job.Executed
    app.close()
