"""GPU workers: a worker with a GPU says so, the listing then offers GPU devices sized by its
memory, and only such a worker claims their jobs (every worker claims the others).

There is no GPU here: workers get a fake probe (tests/fakes/gpu.py) in place of the one that
asks qiskit-aer; tests/gpu/ runs real GPU jobs on a machine with one.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import pytest
from eventsourcing.utils import get_topic
from starlette.testclient import TestClient

from qorch.adapters.executor import Executor
from qorch.adapters.executor.adverts import Adverts, adverts_for
from qorch.adapters.providers.local import gpu
from qorch.bootstrap import init_event_store, open_advertiser, open_application, open_registry
from qorch.domain.application import Qorch
from qorch.domain.execution import ProviderError
from qorch.domain.job import Job
from qorch.domain.requests import RunRequest
from qorch.http.app import create_app
from qorch.settings import Settings
from tests.adapters.test_store import POSTGRES_URL
from tests.conftest import BELL_QASM2, postgres_or_skip, settings_for
from tests.fakes.gpu import H200_MB, FakeGpu

GPU_DEVICES = ["aer_simulator_gpu", "aer_simulator_density_matrix_gpu"]
WIDE = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[30];\nh q;\n'


# --- finding a GPU ---


def test_the_qubits_a_gpu_holds_follow_from_its_memory():
    assert gpu.statevector_qubits(H200_MB) == 33  # 2^33 amplitudes of 16 bytes: 128 GiB
    assert gpu.statevector_qubits(81_920) == 32  # an 80 GB A100
    assert gpu.statevector_qubits(16_384) == 29  # 1 GiB is left to CUDA and Aer
    assert gpu.statevector_qubits(1_024) == 0


def test_the_real_probe_finds_no_gpu_where_aer_has_none_and_says_why_when_one_is_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    assert gpu.aer_devices() == ("CPU",)  # the CPU build of qiskit-aer, as on this machine
    assert gpu.AerGpuProbe().detect() is None

    # A machine with an NVIDIA GPU but the CPU build: nvidia-smi answers, Aer cannot use it.
    nvidia_smi = tmp_path / "nvidia-smi"
    nvidia_smi.write_text(
        "#!/bin/sh\necho 'NVIDIA H200, 143771'\necho 'NVIDIA A100-SXM4-40GB, 40960'\n"
    )
    nvidia_smi.chmod(nvidia_smi.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert gpu.nvidia_gpus() == [("NVIDIA H200", 143_771), ("NVIDIA A100-SXM4-40GB", 40_960)]
    with caplog.at_level(logging.WARNING, "qorch.gpu"):
        assert gpu.AerGpuProbe().detect() is None
    assert "the CPU build is installed" in caplog.text


def test_what_a_worker_advertises_is_read_back_only_when_it_has_the_right_shape():
    advertised = gpu.capabilities(FakeGpu())
    assert advertised == {"gpu": {"name": "NVIDIA H200 (fake)", "memory_mb": H200_MB, "qubits": 33}}
    assert gpu.advertised(advertised) == FakeGpu().detect()
    for broken in ({}, {"gpu": "yes"}, {"gpu": {"name": "x", "memory_mb": "1", "qubits": 3}}):
        assert gpu.advertised(broken) is None
    assert gpu.advertised({"gpu": {"name": "x", "memory_mb": 10, "qubits": 1000}}) is None


def test_the_gpu_extra_installs_the_gpu_build_of_the_pinned_aer_where_it_is_published():
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    aer = next(dep for dep in project["project"]["dependencies"] if dep.startswith("qiskit-aer"))
    (extra,) = project["project"]["optional-dependencies"]["gpu"]
    pin, _, marker = extra.partition(";")
    assert pin.strip() == aer.replace("qiskit-aer", "qiskit-aer-gpu")  # one qiskit_aer version
    assert marker.strip() == "platform_system == 'Linux' and platform_machine == 'x86_64'"


# --- advertising ---


def gpu_worker(settings: Settings, app: Qorch, run_in_worker: Any = None, **probe: Any) -> Executor:
    """An executor wired as `qorch worker` wires it, whose probe finds a (fake) GPU."""
    advertiser = open_advertiser(settings, app, open_registry(settings), FakeGpu(**probe))
    return worker(settings, app, advertiser, run_in_worker)


def cpu_worker(settings: Settings, app: Qorch, run_in_worker: Any = None) -> Executor:
    advertiser = open_advertiser(settings.with_overrides(gpu="off"), app, open_registry(settings))
    return worker(settings, app, advertiser, run_in_worker)


def worker(settings: Settings, app: Qorch, advertiser: Any, run_in_worker: Any) -> Executor:
    extra = {} if run_in_worker is None else {"run_in_worker": run_in_worker}
    return Executor(
        app,
        concurrency=1,
        lease_seconds=settings.lease_seconds,
        poll_interval=settings.poll_interval,
        advertiser=advertiser,
        **extra,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path).with_overrides(lease_seconds=0.6)


@pytest.mark.anyio
async def test_a_worker_with_a_gpu_advertises_it_while_it_runs_and_withdraws_it_when_it_stops(
    settings: Settings,
):
    settings = settings.with_overrides(lease_seconds=1.5)  # heartbeats every 0.5 s
    app, elsewhere = open_application(settings), open_application(settings)
    try:
        # What another process on the same store reads (nothing of this process is shared).
        seen = Adverts(adverts_for(elsewhere.recorder).table, refresh=0)
        assert seen.live(settings.lease_seconds) == []
        cpu = cpu_worker(settings, app)
        with_gpu = gpu_worker(settings, app)
        heartbeats: list[float] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(cpu.run)
            tg.start_soon(with_gpu.run)
            await wait_until_async(lambda: bool(seen.live(settings.lease_seconds)))
            for _ in range(3):  # renewed every third of a lease
                heartbeats.append(stored_heartbeat(seen, with_gpu.worker_id))
                await anyio.sleep(settings.lease_seconds / 2)
            assert seen.live(settings.lease_seconds) == [gpu.capabilities(FakeGpu())]
            assert (with_gpu.board.has, cpu.board.has) == ({"gpu"}, frozenset())
            tg.cancel_scope.cancel()
        assert heartbeats == sorted(heartbeats) and heartbeats[0] < heartbeats[-1]
        assert seen.live(settings.lease_seconds) == []
    finally:
        app.close()
        elsewhere.close()


def stored_heartbeat(adverts: Adverts, worker_id: str) -> float:
    assert adverts.table is not None
    return next(beat for row_id, _, beat in adverts.table.rows() if row_id == worker_id)


@pytest.mark.anyio
async def test_a_worker_that_died_without_withdrawing_is_no_longer_live_after_a_lease(
    settings: Settings,
):
    app = open_application(settings)
    try:
        adverts = Adverts(adverts_for(app.recorder).table, refresh=0)
        assert adverts.table is not None
        adverts.table.write("gone:1:x", '{"gpu": {}}', time.time() - settings.lease_seconds - 1)
        adverts.table.write("here:2:y", '{"gpu": {}}', time.time())
        assert adverts.live(settings.lease_seconds) == [{"gpu": {}}]
    finally:
        app.close()


# --- the listing, and submits ---


def listed(client: TestClient, key: str) -> dict[str, dict[str, Any]]:
    answer = client.get("/ai/list_qpus_and_simulators", headers={"Authorization": key})
    assert answer.status_code == 200, answer.text
    return {device["id"]: device for device in answer.json()["devices"]}


def submit_on(client: TestClient, key: str, experiment: str, device_id: str) -> Any:
    return client.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        json={"experiment_id": experiment, "device_id": device_id, "circuits_qasm": [BELL_QASM2]},
        headers={"Authorization": key},
    )


def test_gpu_devices_are_listed_with_the_gpus_limits_only_while_a_gpu_worker_lives(
    settings: Settings,
):
    api = settings.with_overrides(run_worker=False)
    with TestClient(create_app(api)) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        _, key = service.app.register_user("ada")
        experiment = client.post(
            "/experiments", json={"name": "gpu"}, headers={"Authorization": key}
        )
        experiment_id = experiment.json()["id"]

        # No GPU anywhere: nothing changes, and a run on a GPU device is refused.
        assert not set(GPU_DEVICES) & set(listed(client, key))
        refused = submit_on(client, key, experiment_id, "aer_simulator_gpu")
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "device_id"

        # A worker process with a 40 GB GPU starts on the same store.
        worker_app = open_application(settings)
        fake_runs = FakeWorker()
        running = Running(client, gpu_worker(settings, worker_app, fake_runs, memory_mb=40_960))
        try:
            wait_for(lambda: "aer_simulator_gpu" in listed(client, key))
            devices = listed(client, key)
            statevector, density = devices["aer_simulator_gpu"], devices[GPU_DEVICES[1]]
            assert statevector["qubits"] == 31  # 2^31 amplitudes of 16 bytes fit in 39 GiB
            assert density["qubits"] == 15
            assert statevector["gpu"] == {
                "name": "NVIDIA H200 (fake)",
                "memory_mb": 40_960,
                "qubits": 31,
                "workers": 1,
            }
            assert statevector["device"] == "GPU" and statevector["supports_statevector"]
            assert statevector["limits"] == devices["aer_simulator"]["limits"]
            assert submit_on(client, key, experiment_id, "aer_simulator_gpu").status_code == 201

            # Exact expectation values: the state stays on the GPU, whose memory is the bound.
            assert statevector["statevector_observables_qubits"] == 31
            for device_id, status in (("aer_simulator_gpu", 201), ("aer_simulator", 422)):
                answer = client.post(
                    "/ai/run_circuits_on_qpu_or_simulator",
                    json={
                        "experiment_id": experiment_id,
                        "device_id": device_id,
                        "run_type": "StatevectorRun",
                        "circuits_qasm": [WIDE],
                        "observables": [[["Z" * 30], [1.0]]],
                    },
                    headers={"Authorization": key},
                )
                assert answer.status_code == status, answer.text
        finally:
            running.stop()
            worker_app.close()

        # It stopped: its devices go, and runs on them are refused again.
        wait_for(lambda: "aer_simulator_gpu" not in listed(client, key))
        refused = submit_on(client, key, experiment_id, GPU_DEVICES[1])
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "device_id"


def test_a_gpu_job_that_reaches_a_worker_without_a_usable_gpu_fails_with_a_clear_error(
    settings: Settings,
):
    """The worker believes it has a GPU (a fake probe), but the worker process that runs the
    job asks qiskit-aer itself, which has none here."""
    with TestClient(create_app(settings.with_overrides(run_worker=False))) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        _, key = service.app.register_user("ada")
        experiment = client.post(
            "/experiments", json={"name": "gpu"}, headers={"Authorization": key}
        )
        worker_app = open_application(settings)
        running = Running(client, gpu_worker(settings, worker_app))
        try:
            wait_for(lambda: "aer_simulator_gpu" in listed(client, key))
            submitted = submit_on(client, key, experiment.json()["id"], "aer_simulator_gpu")
            job_id = submitted.json()["job"]["id"]
            answer = client.get(f"/jobs/{job_id}?wait=60", headers={"Authorization": key})
            job = answer.json()
            assert job["status"] == "Error", job
            assert job["error"]["code"] == "gpu_unavailable"
            assert "no GPU that qiskit-aer can use" in job["error"]["message"]
        finally:
            running.stop()
            worker_app.close()


# --- claiming ---


class FakeWorker:
    """Notes the jobs it is handed and fails each at once (its outcome is recorded), except
    those in `hold`, which run until released."""

    def __init__(self, hold: Iterable[UUID] = ()) -> None:
        self.handed: list[UUID] = []
        self.hold = set(hold)
        self.released = anyio.Event()

    async def __call__(self, function: Callable[..., Any], *args: Any) -> Any:
        tasks = [arg for arg in args if hasattr(arg, "job_id")]
        if not tasks:
            return None  # warm-up
        job_id = UUID(tasks[0].job_id)
        self.handed.append(job_id)
        if job_id in self.hold:
            await self.released.wait()
        raise ProviderError("fake", "a fake worker runs nothing")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield settings
        return
    connection = postgres_or_skip(POSTGRES_URL)
    schema = f"qorch_test_{uuid.uuid4().hex[:8]}"
    connection.execute(f"CREATE SCHEMA {schema}")
    try:
        shared = settings.with_overrides(database_url=f"{POSTGRES_URL}?schema={schema}")
        init_event_store(shared)
        yield shared
    finally:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")
        connection.close()


@pytest.mark.anyio
async def test_on_one_store_gpu_jobs_go_to_the_gpu_worker_only_and_other_jobs_to_both(
    store: Settings,
):
    # Each worker has its own application, as separate `qorch worker` processes have.
    gpu_app, cpu_app = open_application(store), open_application(store)
    try:
        user_id, _ = cpu_app.register_user("ada")
        experiment = str(cpu_app.create_experiment(user_id, "gpu").id)

        def submit(device_id: str) -> UUID:
            request = RunRequest(
                experiment_id=experiment, device_id=device_id, circuits_qasm=[BELL_QASM2]
            )
            return cpu_app.submit_job(user_id, request).id

        async with anyio.create_task_group() as workers:
            # The GPU worker starts, and its first GPU job keeps its only slot busy.
            on_gpu = FakeWorker()
            gpu_side = gpu_worker(store, gpu_app, on_gpu)
            workers.start_soon(gpu_side.run)
            await wait_until_async(lambda: cpu_app.find_device("aer_simulator_gpu") is not None)
            first_gpu_job = submit("aer_simulator_gpu")
            on_gpu.hold.add(first_gpu_job)
            await wait_until_async(lambda: on_gpu.handed == [first_gpu_job])

            # A CPU worker joins: it runs the CPU jobs and leaves the GPU job waiting.
            on_cpu = FakeWorker()
            cpu_side = cpu_worker(store, cpu_app, on_cpu)
            cpu_scope = anyio.CancelScope()

            async def run_cpu_worker() -> None:
                with cpu_scope:
                    await cpu_side.run()

            workers.start_soon(run_cpu_worker)
            waiting = submit("aer_simulator_density_matrix_gpu")
            cpu_jobs = [submit("aer_simulator") for _ in range(3)]
            await wait_until_async(all_final(cpu_app, cpu_jobs))
            assert on_cpu.handed == cpu_jobs
            assert claimants(cpu_app, waiting) == []

            # Restarted from its checkpoint, the CPU worker still leaves it alone.
            first_cpu_side = cpu_side.worker_id
            cpu_scope.cancel()
            await wait_until_async(lambda: cpu_side.stopping)
            on_cpu = FakeWorker()
            cpu_side = cpu_worker(store, cpu_app, on_cpu)
            workers.start_soon(cpu_side.run)
            later = submit("aer_simulator")
            await wait_until_async(all_final(cpu_app, [later]))
            assert cpu_side.board.open[waiting].needs == "gpu"
            assert on_cpu.handed == [later]
            assert claimants(cpu_app, waiting) == []

            # Once the GPU worker is free it runs the waiting GPU job, and CPU jobs too.
            on_gpu.released.set()
            await wait_until_async(all_final(cpu_app, [first_gpu_job, waiting]))
            workers.cancel_scope.cancel()  # both stop
        assert claimants(cpu_app, first_gpu_job) == [gpu_side.worker_id]
        assert claimants(cpu_app, waiting) == [gpu_side.worker_id]
        for job in cpu_jobs:
            assert claimants(cpu_app, job) == [first_cpu_side]
        assert claimants(cpu_app, later) == [cpu_side.worker_id]

        # With the GPU worker alone, it runs CPU jobs too.
        last = submit("aer_simulator")
        async with anyio.create_task_group() as workers:
            alone = gpu_worker(store, gpu_app, on_gpu)
            workers.start_soon(alone.run)
            await wait_until_async(all_final(cpu_app, [last]))
            workers.cancel_scope.cancel()
        assert claimants(cpu_app, last) == [alone.worker_id]
    finally:
        gpu_app.close()
        cpu_app.close()


@pytest.mark.anyio
async def test_a_gpu_jobs_needs_are_known_even_while_no_live_worker_lists_its_device(
    settings: Settings,
):
    """A GPU worker took a job and went away: the other workers no longer list the device,
    and still never take the job."""
    submitter, worker_app = open_application(settings), open_application(settings)
    try:
        user_id, _ = submitter.register_user("ada")
        experiment = str(submitter.create_experiment(user_id, "gpu").id)
        adverts = adverts_for(submitter.recorder)
        adverts.advertise("gone:1:x", gpu.capabilities(FakeGpu()))
        request = RunRequest(
            experiment_id=experiment, device_id="aer_simulator_gpu", circuits_qasm=[BELL_QASM2]
        )
        job = submitter.submit_job(user_id, request).id
        adverts.withdraw("gone:1:x")
        assert worker_app.find_device("aer_simulator_gpu") is None

        without = cpu_worker(settings, worker_app).board
        with_gpu = gpu_worker(settings, worker_app).board
        with_gpu.has = frozenset({"gpu"})
        for board in (without, with_gpu):
            board.track(worker_app.recorder.select_notifications(start=1, limit=1000))
            await board.learn_owners()
            assert board.open[job].needs == "gpu"
        assert without.claimable(time.time(), set())[0] == []
        assert [chosen.job_id for chosen in with_gpu.claimable(time.time(), set())[0]] == [job]
    finally:
        submitter.close()
        worker_app.close()


# --- helpers ---


def claimants(app: Qorch, job_id: UUID) -> list[str]:
    """The workers that claimed the job, from its Claimed events."""
    topic = get_topic(Job.Claimed)
    found = []
    for stored in app.recorder.select_events(job_id):
        if stored.topic == topic:
            found.append(app.mapper.to_domain_event(stored).worker_id)  # type: ignore[attr-defined]
    return found


def all_final(app: Qorch, jobs: Iterable[UUID]) -> Callable[[], bool]:
    jobs = list(jobs)
    return lambda: all(app.find_job(job).status.is_final for job in jobs)  # type: ignore[union-attr]


def wait_for(done: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


async def wait_until_async(done: Callable[[], bool], seconds: float = 30) -> None:
    with anyio.fail_after(seconds):
        while not done():
            await anyio.sleep(0.02)


class Running:
    """An executor running beside a TestClient's app, as another process would, until stopped."""

    def __init__(self, client: TestClient, executor: Executor) -> None:
        self.stopped = threading.Event()

        async def run() -> None:
            try:
                await executor.run()
            finally:
                self.stopped.set()

        self.future = client.portal.start_task_soon(run)  # type: ignore[union-attr]

    def stop(self) -> None:
        self.future.cancel()
        assert self.stopped.wait(30), "the executor did not stop"
