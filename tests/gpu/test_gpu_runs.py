"""Real GPU runs, for a machine with an NVIDIA GPU and qiskit-aer-gpu (README: GPU workers).

Elsewhere each test here is skipped with the reason: these are the only tests that need
hardware the test machines lack. On a GPU machine:

    .venv/bin/python -m pytest tests/gpu -q -s     # -s prints the GPU and CPU times
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.local import client, gpu
from qorch.adapters.providers.local.catalogue import find_local_device
from qorch.adapters.providers.local.provider import LocalProvider
from qorch.domain.execution import CircuitTask, ExecutionTask, ObservableSpec
from qorch.http.app import create_app
from tests.conftest import BELL_QASM2, new_account, settings_for

QUBITS = 28
"""A 4 GiB statevector: seconds on a GPU, much longer on the CPU."""
OBSERVABLES = (
    ObservableSpec(("Z" * QUBITS,), (1.0,)),
    ObservableSpec(("I" * (QUBITS - 2) + "ZZ", "I" * (QUBITS - 1) + "X"), (0.5, 0.5)),
)


@pytest.fixture(scope="module")
def gpu_here() -> gpu.Gpu:
    found = gpu.AerGpuProbe().detect()
    if found is None:
        listed = gpu.nvidia_gpus()
        pytest.skip(
            f"no GPU that qiskit-aer can use: Aer's devices are {gpu.aer_devices()}, "
            f"nvidia-smi lists {listed or 'no GPU'}"
            + ("; install qiskit-aer-gpu (README: GPU workers)" if listed else "")
        )
    if found.qubits < QUBITS:
        pytest.skip(f"{found.name} holds {found.qubits} qubits, these runs need {QUBITS}")
    return found


def layered(qubits: int, layers: int = 3) -> str:
    """Rotations and a CX chain per layer: every amplitude takes part."""
    lines = ['OPENQASM 2.0;\ninclude "qelib1.inc";', f"qreg q[{qubits}];"]
    for layer in range(layers):
        lines += [f"ry({0.1 * (i + 1) + layer}) q[{i}];" for i in range(qubits)]
        lines += [f"cx q[{i}],q[{i + 1}];" for i in range(qubits - 1)]
        lines += [f"rz({0.05 * (i + 1)}) q[{i}];" for i in range(qubits)]
    return "\n".join(lines) + "\n"


def statevector_task(device_id: str) -> ExecutionTask:
    circuit = CircuitTask(layered(QUBITS), observables=OBSERVABLES)
    return ExecutionTask(f"{device_id}-run", device_id, "StatevectorRun", 0, (circuit,))


def test_a_28_qubit_statevector_run_on_the_gpu_gives_the_cpus_values(gpu_here: gpu.Gpu):
    provider = LocalProvider(ProviderConfig(max_dense_qubits=QUBITS))
    on_gpu = gpu.device_here("aer_simulator_gpu")
    on_cpu = find_local_device("aer_simulator_statevector", QUBITS)
    assert on_gpu is not None and on_cpu is not None and on_cpu.qubits == QUBITS
    assert client.simulator(gpu.STATEVECTOR_DEVICE).options.device == "GPU"

    # The first GPU call starts CUDA: timed apart.
    started = time.perf_counter()
    small = ExecutionTask("warm", on_gpu.id, "Run", 100, (CircuitTask(BELL_QASM2),))
    assert sum(provider.run(small, on_gpu, {}).circuits[0].counts[0].values()) == 100  # type: ignore[index]
    cuda_start = time.perf_counter() - started

    started = time.perf_counter()
    gpu_outcome = provider.run(statevector_task(on_gpu.id), on_gpu, {})
    gpu_seconds = time.perf_counter() - started
    started = time.perf_counter()
    cpu_outcome = provider.run(statevector_task(on_cpu.id), on_cpu, {})
    cpu_seconds = time.perf_counter() - started
    print(
        f"\n{QUBITS}-qubit StatevectorRun, {len(OBSERVABLES)} observables: "
        f"GPU ({gpu_here.name}) {gpu_seconds:.2f} s (CUDA start {cuda_start:.2f} s before), "
        f"CPU {cpu_seconds:.2f} s, {cpu_seconds / gpu_seconds:.1f}x"
    )

    on_gpu_values = np.asarray(gpu_outcome.circuits[0].expectation_values)
    on_cpu_values = np.asarray(cpu_outcome.circuits[0].expectation_values)
    assert on_gpu_values.shape == (len(OBSERVABLES), 1)
    np.testing.assert_allclose(on_gpu_values, on_cpu_values, atol=1e-9)
    assert np.abs(on_gpu_values).max() > 1e-6  # not a trivial state
    assert gpu_outcome.metadata["device"] == "aer_simulator_gpu"


def test_a_server_on_a_gpu_machine_lists_its_gpu_and_runs_jobs_there(
    gpu_here: gpu.Gpu, tmp_path: Path
):
    """The whole path: the embedded worker finds the GPU, the listing sizes the GPU devices by
    it, and jobs run in a worker process under the usual time and memory limits (a 28-qubit
    StatevectorRun with observables needs no raised limit: its state stays on the GPU)."""
    with TestClient(create_app(settings_for(tmp_path))) as server:
        account = new_account(server)
        answer = account.get("/ai/list_qpus_and_simulators")
        devices = {device["id"]: device for device in answer.json()["devices"]}
        assert devices["aer_simulator_gpu"]["qubits"] == gpu_here.qubits
        assert devices["aer_simulator_density_matrix_gpu"]["qubits"] == gpu_here.qubits // 2
        assert devices["aer_simulator_gpu"]["gpu"]["memory_mb"] == gpu_here.memory_mb
        assert devices["aer_simulator_gpu"]["statevector_observables_qubits"] == gpu_here.qubits

        bell = account.wait_for(
            account.run(device_id="aer_simulator_gpu", circuits_qasm=[BELL_QASM2], shots=1000)[
                "id"
            ],
            120,
        )
        assert bell["status"] == "Done", bell["error"]
        assert sum(bell["counts"][0].values()) == 1000
        assert set(bell["counts"][0]) <= {"00", "11"}

        started = time.perf_counter()
        job = account.run(
            device_id="aer_simulator_gpu",
            run_type="StatevectorRun",
            circuits_qasm=[layered(QUBITS)],
            observables=[[list(spec.paulis), list(spec.coefficients)] for spec in OBSERVABLES],
        )
        done = account.wait_for(job["id"], 300)
        seconds = time.perf_counter() - started
        print(f"\n{QUBITS}-qubit StatevectorRun through the API, on the GPU: {seconds:.2f} s")
        assert done["status"] == "Done", done["error"]
        assert len(done["quantum_results"][0]) == len(OBSERVABLES)
