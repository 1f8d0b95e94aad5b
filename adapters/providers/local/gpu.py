"""Aer on a GPU: finding one (a small port, `GpuProbe`), and the devices it runs.

GPU devices exist only where a worker has a GPU: a worker asks its probe once at start and
advertises what it found (adapters/executor/capabilities.py); the catalogue lists these devices
while such a worker lives, with the qubits the smallest advertised GPU holds. In the worker
process that runs a job, `device_here` asks the same probe again, so a job is transpiled and
bounded by the GPU it actually runs on.

The GPU build of Aer is the PyPI package qiskit-aer-gpu (`pip install qorch[gpu]`, README:
GPU workers); the CPU build answers ("CPU",) to `available_devices()` and is never asked more.
"""

from __future__ import annotations

import functools
import logging
import math
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from qorch.domain.devices import Device
from qorch.domain.execution import ProviderError
from qorch.domain.statevector import OBSERVABLES_QUBITS

log = logging.getLogger("qorch.gpu")

CAPABILITY = "gpu"
"""What a worker advertises, and what a GPU device requires of the worker that runs it."""
GPU_METHODS: dict[str, str] = {
    "aer_simulator_gpu": "statevector",
    "aer_simulator_density_matrix_gpu": "density_matrix",
}
"""GPU devices: id -> Aer simulation method."""
STATEVECTOR_DEVICE = "aer_simulator_gpu"
"""Where a StatevectorRun on a GPU device runs."""
CPU_TWINS = {
    "statevector": "aer_simulator_statevector",
    "density_matrix": "aer_simulator_density_matrix",
}
"""The CPU device of the same method: same gates, same options."""
_DESCRIPTIONS = {
    "statevector": "Dense statevector on a GPU, exact amplitudes",
    "density_matrix": "Dense density matrix on a GPU (half the GPU's statevector qubits)",
}
SUFFIX = "_gpu"
"""A GPU simulator's key: its method with this suffix, as Aer names its GPU backends
(`aer_simulator_statevector_gpu`)."""
AMPLITUDE_BYTES = 16
"""A double-precision complex amplitude."""
RESERVED_MB = 1024
"""GPU memory left to CUDA's context and Aer's work buffers."""
NVIDIA_SMI_TIMEOUT = 10.0


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_mb: int
    """Memory of one GPU (the smallest, where a machine has several)."""
    qubits: int
    """Qubits of the largest double-precision statevector it holds (and Aer accepts here)."""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "memory_mb": self.memory_mb, "qubits": self.qubits}


class GpuProbe(Protocol):
    def detect(self) -> Gpu | None:
        """The GPU Aer can run on in this process's environment; None when there is none."""
        ...


def statevector_qubits(memory_mb: int) -> int:
    """Qubits of the largest double-precision statevector that fits in `memory_mb`."""
    usable = (memory_mb - RESERVED_MB) * 2**20 // AMPLITUDE_BYTES
    return max(0, math.floor(math.log2(usable))) if usable >= 1 else 0


@dataclass(frozen=True)
class AerGpuProbe:
    """Asks qiskit-aer whether it can simulate on a GPU, and nvidia-smi (else Aer's own run
    metadata) how much memory the GPU has."""

    def detect(self) -> Gpu | None:
        if "GPU" not in aer_devices():
            if shutil.which("nvidia-smi") and nvidia_gpus():
                log.warning(
                    "an NVIDIA GPU is present but qiskit-aer cannot use it (the CPU build is "
                    "installed): see README, GPU workers"
                )
            return None
        found = nvidia_gpus() or aer_gpu_memory()
        if not found:
            log.warning("qiskit-aer reports a GPU but its memory could not be read: not used")
            return None
        name, memory_mb = min(found, key=lambda gpu: gpu[1])
        qubits = min(statevector_qubits(memory_mb), aer_qubit_cap())
        return Gpu(name, memory_mb, qubits) if qubits > 0 else None


def aer_devices() -> tuple[str, ...]:
    from qiskit_aer import AerSimulator

    return tuple(AerSimulator().available_devices())


def aer_qubit_cap() -> int:
    """Aer's own bound on a statevector here (it sizes its target by the host's memory)."""
    from qiskit_aer import AerSimulator

    return int(AerSimulator(method="statevector", device="GPU").target.num_qubits or 0)


def nvidia_gpus() -> list[tuple[str, int]]:
    """Each GPU nvidia-smi lists: (name, total memory in MiB); [] when it cannot tell."""
    try:
        answer = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_nvidia_smi(answer.stdout)


def parse_nvidia_smi(text: str) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for line in text.splitlines():
        name, _, memory = line.rpartition(",")
        if name.strip() and memory.strip().isdigit():
            found.append((name.strip(), int(memory.strip())))
    return found


def aer_gpu_memory() -> list[tuple[str, int]]:
    """Aer's own reading: a run's metadata says how much GPU memory it may use (the sum over
    the GPUs it sees, as one entry)."""
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    circuit = QuantumCircuit(1)
    circuit.id(0)
    circuit.save_statevector()  # type: ignore[attr-defined]  # Aer adds it to QuantumCircuit
    try:
        result = AerSimulator(method="statevector", device="GPU").run(circuit).result()
        memory = int(result.metadata.get("max_gpu_memory_mb", 0))
    except Exception as error:  # whatever the GPU build raises: no usable GPU
        log.warning("qiskit-aer could not run on its GPU: %s: %s", type(error).__name__, error)
        return []
    return [("GPU", memory)] if memory > 0 else []


@functools.cache
def local_gpu() -> Gpu | None:
    """This process's GPU, asked once (a worker process runs many jobs)."""
    return AerGpuProbe().detect()


def simulator_key(device_id: str) -> str | None:
    """The key `catalogue.ideal_simulator` builds a GPU device's simulator from."""
    method = GPU_METHODS.get(device_id)
    return None if method is None else method + SUFFIX


def aer_options(key: str) -> dict[str, str]:
    """AerSimulator's options for an ideal simulator's key: a method, or a GPU key."""
    if key.endswith(SUFFIX):
        return {"method": key.removesuffix(SUFFIX), "device": "GPU"}
    return {"method": key}


def on_gpu(device: Device) -> bool:
    return device.id in GPU_METHODS


def requires(device_id: str) -> tuple[str, ...]:
    """What a worker needs to run `device_id`, listed now or not."""
    return (CAPABILITY,) if device_id in GPU_METHODS else ()


def gpu_device(device_id: str, gpu: Gpu, workers: int = 1) -> Device:
    """The GPU device `device_id` on `gpu`: its CPU twin's gates and options, the GPU's qubits."""
    from qorch.adapters.providers.local.catalogue import find_local_device

    method = GPU_METHODS[device_id]
    twin = find_local_device(CPU_TWINS[method])
    assert twin is not None
    qubits = gpu.qubits if method == "statevector" else gpu.qubits // 2
    # With observables the state stays on the GPU: only the GPU's memory bounds the run.
    exact = {OBSERVABLES_QUBITS: qubits} if method == "statevector" else {}
    return replace(
        twin,
        id=device_id,
        name=f"Aer simulator ({method.replace('_', ' ')}) on GPU",
        qubits=qubits,
        description=f"{_DESCRIPTIONS[method]} ({gpu.name}, {gpu.memory_mb} MiB)",
        requires=(CAPABILITY,),
        extra={
            "method": method,
            "device": "GPU",
            "gpu": {**gpu.as_dict(), "workers": workers},
            **exact,
        },
    )


def device_here(device_id: str) -> Device | None:
    """A GPU device as this process's GPU runs it; None for other ids. Raises when this
    process has no GPU (a GPU job reached a worker that cannot run it)."""
    if device_id not in GPU_METHODS:
        return None
    gpu = local_gpu()
    if gpu is None:
        raise ProviderError(
            "gpu_unavailable",
            f"{device_id} runs on a GPU, and this worker has no GPU that qiskit-aer can use",
        )
    return gpu_device(device_id, gpu)


@dataclass(frozen=True)
class GpuDevices:
    """The GPU devices the live workers' advertisements allow: each GPU device once, sized by
    the smallest advertised GPU, so that whichever GPU worker claims a job can hold it."""

    def devices(self, live: Iterable[Mapping[str, Any]]) -> list[Device]:
        gpus = [gpu for capabilities in live if (gpu := advertised(capabilities)) is not None]
        if not gpus:
            return []
        smallest = min(gpus, key=lambda gpu: (gpu.qubits, gpu.memory_mb))
        return [gpu_device(device_id, smallest, len(gpus)) for device_id in GPU_METHODS]


def advertised(capabilities: Mapping[str, Any]) -> Gpu | None:
    """The GPU in a worker's advertised capabilities; None when none is there, or it is not
    what a worker writes (a row is never trusted to hold the right types)."""
    found = capabilities.get(CAPABILITY)
    if not isinstance(found, Mapping):
        return None
    name, memory_mb, qubits = found.get("name"), found.get("memory_mb"), found.get("qubits")
    if not isinstance(name, str) or type(memory_mb) is not int or type(qubits) is not int:
        return None
    if memory_mb <= 0 or not 0 < qubits <= 64:
        return None
    return Gpu(name[:200], memory_mb, qubits)


def capabilities(probe: GpuProbe) -> dict[str, Any]:
    """What a worker with this probe advertises: its GPU, when it has one."""
    found = probe.detect()
    return {} if found is None else {CAPABILITY: found.as_dict()}
