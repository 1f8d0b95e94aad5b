"""The local provider behind the Provider port: what the executor and the registry rely on."""

from __future__ import annotations

import pickle

import pytest

from qorch.adapters.providers import Registry
from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.local import build
from qorch.domain.execution import CircuitTask, ExecutionTask, ProviderError, ProviderJob
from qorch.domain.ports import Provider
from tests.adapters.aer_runs import noted_options

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\n'
MEASURED_BELL = BELL + "measure q -> c;\n"


def test_the_registry_builds_it_from_settings_and_workers_get_an_equal_copy() -> None:
    local: Provider = Registry(ProviderConfig(max_dense_qubits=20)).provider("local")

    copy = pickle.loads(pickle.dumps(local))

    assert copy == local and copy.name == "local"
    listed = {device.id: device for device in copy.devices()}
    assert listed["aer_simulator_statevector"].qubits == 20
    assert all(device.provider == "local" and not device.remote for device in listed.values())


def test_a_run_in_a_fresh_copy_answers_like_the_original() -> None:
    local = build(ProviderConfig())
    device = next(d for d in local.devices() if d.id == "aer_simulator")
    task = ExecutionTask(
        "job", device.id, "Run", 100, (CircuitTask(MEASURED_BELL),), {"seed_simulator": 3}
    )

    outcome = pickle.loads(pickle.dumps(local)).run(task, device, {})

    assert outcome.circuits[0].counts == local.run(task, device, {}).circuits[0].counts


def test_local_devices_are_never_submitted_polled_or_cancelled() -> None:
    local = build(ProviderConfig())
    device = local.devices()[0]
    task = ExecutionTask("job", device.id, "Run", 10, (CircuitTask(BELL),))
    job = ProviderJob("local", ("nothing",))

    for call in (
        lambda: local.submit(task, device, {}),
        lambda: local.poll(task, device, job, {}),
        lambda: local.cancel(device, job, {}),
    ):
        with pytest.raises(ProviderError) as raised:
            call()
        assert raised.value.code == "unsupported_operation"
    assert local.live_status([device], {}) == {}


def test_a_small_ideal_circuit_runs_on_one_aer_thread_and_a_wide_one_on_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = noted_options(monkeypatch)
    local = build(ProviderConfig())
    device = next(d for d in local.devices() if d.id == "aer_simulator")
    wide = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[14];\ncreg c[14];\nh q;\nmeasure q -> c;\n'
    for source in (MEASURED_BELL, wide):
        task = ExecutionTask("job", device.id, "Run", 100, (CircuitTask(source),))
        counts = local.run(task, device, {}).circuits[0].counts
        assert counts is not None and sum(counts[0].values()) == 100

    assert seen[0].get("max_parallel_threads") == 1  # OpenMP would only spin for two qubits
    assert "max_parallel_threads" not in seen[1]  # 14 qubits: Aer splits the state


@pytest.mark.anyio
async def test_worker_processes_yield_the_cpu_to_the_api_process() -> None:
    import os

    from qorch.adapters.executor import run_in_process
    from qorch.adapters.providers import WORKER_NICENESS, warm_up

    await run_in_process(warm_up, ProviderConfig())
    niceness = await run_in_process(os.nice, 0)  # the warmed process: anyio reuses idle ones

    assert niceness == min(19, os.nice(0) + WORKER_NICENESS)  # 19: the lowest priority
