"""The executor under stress: short leases, errors raised in worker processes, dead workers."""

from __future__ import annotations

import logging
import pickle
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from qiskit import qasm3
from qiskit.circuit.library import efficient_su2
from starlette.testclient import TestClient

from qorch.adapters import providers
from qorch.adapters.executor import Executor, run_in_process
from qorch.bootstrap import open_application
from qorch.domain.execution import CircuitTask, ExecutionTask, ProviderError
from qorch.domain.job import Job
from qorch.domain.requests import RunRequest
from qorch.http.app import create_app
from qorch.settings import Settings
from tests.conftest import BELL_QASM2, Account, new_account, settings_for


def test_a_provider_error_survives_the_trip_from_a_worker_process():
    error = ProviderError("invalid_option", "options.x: bad", retryable=True, field="options.x")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.message, copy.retryable, copy.field) == (
        "invalid_option",
        "options.x: bad",
        True,
        "options.x",
    )


@pytest.mark.anyio
async def test_run_in_process_re_raises_the_provider_error_itself():
    task = ExecutionTask("job", "no_such_device", "Run", 10, (CircuitTask(BELL_QASM2),))
    local = providers.Registry().provider("local")
    device = replace(local.devices()[0], id="no_such_device")
    with pytest.raises(ProviderError) as raised:
        await run_in_process(providers.in_worker, local, "run", task, device, {})
    assert raised.value.code == "unknown_device"


@pytest.fixture(scope="module")
def short_lease_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = settings_for(tmp_path_factory.mktemp("short-lease"))
    settings = settings.with_overrides(lease_seconds=0.3)
    with TestClient(create_app(settings)) as client:
        yield client


def a_few_seconds_of_simulation() -> dict[str, object]:
    circuit = efficient_su2(16, reps=2)
    sets = [[0.01 * (i + j) for j in range(circuit.num_parameters)] for i in range(60)]
    return {
        "circuits_qasm": [qasm3.dumps(circuit)],
        "parameters": sets,
        "observables": [[["Z" * 16], [1.0]]],
        "device_id": "aer_simulator_statevector",
    }


def test_a_job_outliving_many_lease_renewals_is_recorded_once(short_lease_server: TestClient):
    account: Account = new_account(short_lease_server)
    job = account.run(**a_few_seconds_of_simulation())
    done = account.wait_for(job["id"], 120)
    assert done["status"] == "Done", done["error"]
    kinds = [event["type"] for event in done["events"]]
    assert kinds.count("Claimed") == 1
    assert kinds.count("Executed") == 1


def test_an_error_found_while_running_reaches_the_user_with_its_code(alice: Account):
    """A T gate is not Clifford: the stabilizer method finds out only when it runs."""
    not_clifford = (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\n'
        "h q[0];\nt q[0];\nmeasure q[0] -> c[0];\n"
    )
    job = alice.wait_for(
        alice.run(circuits_qasm=[not_clifford], device_id="aer_simulator_stabilizer")["id"]
    )
    assert job["status"] == "Error"
    assert job["error"]["code"] == "simulation_failed"
    assert "TypeError" not in job["error"]["message"]


@pytest.mark.anyio
async def test_a_job_with_an_unreadable_event_is_set_aside_and_the_others_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """A poisoned stored event (one the store cannot decode) never stops the executor: its job
    is set aside and logged with its log position, and every other job runs."""
    app = open_application(Settings(data_dir=tmp_path))
    user_id, _ = app.register_user("ada")
    experiment = str(app.create_experiment(user_id, "exp").id)
    request = RunRequest(experiment_id=experiment, circuits_qasm=[BELL_QASM2], shots=10)
    bad = b'{"worker_id":{"_type_":"nope","_data_":1},"lease_until":{"_type_":"nope","_data_":1}}'
    poisoned_submit = uuid.uuid4()
    released_badly = app.submit_job(user_id, request).id  # decoded when claimed
    renewed_badly = app.submit_job(user_id, request).id  # decoded by the log follower
    app.recorder.insert_events(
        [
            StoredEvent(poisoned_submit, 1, get_topic(Job.Submitted), bad),
            StoredEvent(released_badly, 2, get_topic(Job.Released), bad),
            StoredEvent(renewed_badly, 2, get_topic(Job.LeaseRenewed), bad),
        ]
    )
    good = app.submit_job(user_id, request).id

    async def worker(function: Any, *args: Any) -> Any:
        if any(hasattr(arg, "job_id") for arg in args):
            raise ProviderError("fake", "a fake worker runs nothing")

    executor = Executor(
        app, concurrency=1, lease_seconds=5, poll_interval=0.02, run_in_worker=worker
    )
    try:
        with caplog.at_level(logging.ERROR, logger="qorch.executor"):
            async with anyio.create_task_group() as tg:
                tg.start_soon(executor.run)
                with anyio.move_on_after(20):
                    while not app.find_job(good).status.is_final:  # type: ignore[union-attr]
                        await anyio.sleep(0.02)
                tg.cancel_scope.cancel()
        assert app.find_job(good).status.is_final  # type: ignore[union-attr]
        assert set(executor.board.set_aside) == {poisoned_submit, released_badly, renewed_badly}
        logged = "\n".join(r.getMessage() for r in caplog.records if "set aside" in r.getMessage())
        for job_id in (poisoned_submit, released_badly, renewed_badly):
            assert str(job_id) in logged
        assert "log position" in logged
    finally:
        app.close()
