"""A GPU probe that finds a GPU on any machine: what a worker would advertise on one."""

from __future__ import annotations

from dataclasses import dataclass

from qorch.adapters.providers.local.gpu import Gpu, statevector_qubits

H200_MB = 143_771
"""What nvidia-smi reports for an H200."""


@dataclass(frozen=True)
class FakeGpu:
    memory_mb: int = H200_MB
    name: str = "NVIDIA H200 (fake)"

    def detect(self) -> Gpu | None:
        return Gpu(self.name, self.memory_mb, statevector_qubits(self.memory_mb))
