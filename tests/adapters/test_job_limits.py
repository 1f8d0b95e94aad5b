"""Per-job limits (issue 11, finding 3b) and fairness under load (finding 4), on a real qorch with
worker processes: a job past its wall-clock or memory limit ends Error (time_limit,
memory_limit) and the next job runs; one user's endless jobs do not keep another's Bell job
waiting."""

from __future__ import annotations

import os
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.testclient import TestClient

from qorch.adapters.executor import Executor, run_in_process
from qorch.adapters.quotas import Quotas
from qorch.adapters.worker_limits import call_with_memory_limit
from qorch.bootstrap import open_application
from qorch.domain.execution import ProviderError
from qorch.http.app import create_app
from qorch.settings import Settings
from tests.conftest import BELL_QASM2, Account, new_account, settings_for

ENDLESS_QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[1] q;
bit[1] c;
c[0] = measure q[0];
while (c == 0) {
  x q[0];
  c[0] = measure q[0];
  x q[0];
  c[0] = measure q[0];
}
"""
TIME_LIMIT = 3.0


def dense(qubits: int) -> str:
    return (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{qubits}];\ncreg c[{qubits}];\n'
        "h q;\nmeasure q -> c;\n"
    )


def event_time(job: dict[str, Any], kind: str) -> float:
    (when,) = [event["timestamp"] for event in job["events"] if event["type"] == kind]
    return datetime.fromisoformat(when).timestamp()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = settings_for(tmp_path_factory.mktemp("limited"))
    quotas = Quotas(
        time_limit=TIME_LIMIT,
        memory_limit_mb=256,
        time_limits=(("aer_simulator_statevector", 30.0),),
        max_running_per_user=2,
    )
    settings = settings.with_overrides(quotas=quotas)
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_never_ending_loop_ends_at_its_time_limit_and_the_next_job_runs(limited: TestClient):
    account = new_account(limited)
    endless = account.run(circuits_qasm=[ENDLESS_QASM3], shots=10)
    job = account.wait_for(endless["id"], TIME_LIMIT + 30)
    assert job["status"] == "Error", job
    assert job["error"]["code"] == "time_limit" and job["error"]["retryable"] is False
    ran = event_time(job, "Failed") - event_time(job, "Claimed")
    print(f"\nendless job stopped after {ran:.2f} s (limit {TIME_LIMIT} s)")
    assert TIME_LIMIT <= ran < TIME_LIMIT + 3.0
    kinds = [event["type"] for event in job["events"]]
    assert kinds.count("Claimed") == 1  # not retried
    bell = account.wait_for(account.run(circuits_qasm=[BELL_QASM2], shots=100)["id"], 60)
    assert bell["status"] == "Done", bell


def test_a_job_past_its_memory_limit_ends_memory_limit_and_the_next_job_runs(
    limited: TestClient,
):
    account = new_account(limited)
    # 26 qubits in a dense statevector: 1 GiB, above the 256 MiB limit.
    huge = account.run(circuits_qasm=[dense(26)], shots=10, device_id="aer_simulator_statevector")
    job = account.wait_for(huge["id"], 60)
    assert job["status"] == "Error", job
    assert job["error"]["code"] == "memory_limit", job["error"]
    assert job["error"]["retryable"] is False
    assert [event["type"] for event in job["events"]].count("Claimed") == 1
    # The worker's limit is lifted again: a 20-qubit job (16 MiB) after it runs.
    after = account.run(circuits_qasm=[dense(20)], shots=10, device_id="aer_simulator_statevector")
    assert account.wait_for(after["id"], 60)["status"] == "Done"


def test_the_device_listing_shows_each_devices_limits(limited: TestClient):
    account = new_account(limited)
    devices = {d["id"]: d for d in account.get("/devices").json()["devices"]}
    assert devices["aer_simulator"]["limits"] == {"time_seconds": TIME_LIMIT, "memory_mb": 256}
    assert devices["aer_simulator_statevector"]["limits"]["time_seconds"] == 30.0
    assert devices["ionq_aria_1"]["limits"] == {"time_seconds": None, "memory_mb": None}
    listed = account.get("/ai/list_qpus_and_simulators").json()["devices"]
    assert {"time_seconds": TIME_LIMIT, "memory_mb": 256} in [d["limits"] for d in listed]


# --- the memory limit inside a worker process ---


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


@pytest.mark.anyio
async def test_an_allocation_past_the_limit_fails_in_the_worker_which_then_goes_on():
    near = os.path.join(tempfile.gettempdir(), f"qorch-test-{os.getpid()}")
    with pytest.raises(ProviderError) as raised:
        await run_in_process(call_with_memory_limit, 64, near, None, allocate, 512)
    assert raised.value.code == "memory_limit" and raised.value.retryable is False
    # Below the limit, and with the limit lifted again, the same worker allocates.
    assert await run_in_process(call_with_memory_limit, 64, near, None, allocate, 16) == 16 << 20
    assert await run_in_process(allocate, 512) == 512 << 20
    limits = await run_in_process(resource.getrlimit, resource.RLIMIT_DATA)
    assert limits[0] == resource.RLIM_INFINITY


@pytest.mark.anyio
async def test_a_worker_that_dies_at_its_memory_limit_is_memory_limit_not_retried(tmp_path: Path):
    app = open_application(Settings(data_dir=tmp_path))

    async def dies_full(function: Any, *args: Any) -> Any:
        if function is call_with_memory_limit:
            Path(args[1]).write_text("full")  # what the worker's watcher notes near the limit
        raise anyio.BrokenWorkerProcess

    async def dies(function: Any, *args: Any) -> Any:
        raise anyio.BrokenWorkerProcess

    try:
        for worker, expected in ((dies_full, ProviderError), (dies, anyio.BrokenWorkerProcess)):
            executor = Executor(
                app, concurrency=1, lease_seconds=5, poll_interval=0.05, run_in_worker=worker
            )
            with pytest.raises(expected) as raised:
                await executor.runner.run_local("aer_simulator", print)
            if expected is ProviderError:
                assert raised.value.code == "memory_limit"  # type: ignore[attr-defined]
    finally:
        app.close()


# --- acceptance: two users, one of them flooding ---


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Two worker slots, the default fair share (one slot per user), a 60 s time limit."""
    settings = settings_for(tmp_path_factory.mktemp("shared"))
    settings = settings.with_overrides(quotas=Quotas(time_limit=60.0))
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_users_bell_job_completes_in_seconds_while_another_floods_the_workers(
    shared: TestClient,
):
    ada: Account = new_account(shared)
    bob: Account = new_account(shared)
    flood = [ada.run(circuits_qasm=[ENDLESS_QASM3], shots=10) for _ in range(4)]
    flood += [
        ada.run(circuits_qasm=[dense(24)], shots=100_000, device_id="aer_simulator_statevector")
        for _ in range(2)
    ]
    deadline = time.monotonic() + 30
    while ada.get(f"/jobs/{flood[0]['id']}").json()["status"] != "Running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    bell = bob.run(circuits_qasm=[BELL_QASM2], shots=1000)
    done = bob.wait_for(bell["id"], 30)
    waited = time.monotonic() - started
    print(f"\nBob's Bell job done {waited:.2f} s after submit, under Ada's {len(flood)} jobs")
    assert done["status"] == "Done", done
    assert waited < 10.0
    statuses = [ada.get(f"/jobs/{job['id']}").json()["status"] for job in flood]
    assert statuses.count("Running") == 1  # Ada holds one of the two slots, no more
    for job in flood:
        ada.post(f"/jobs/{job['id']}/cancel", {})
