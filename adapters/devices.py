"""The device catalogue across providers (local simulators for now)."""

from __future__ import annotations

from functools import cached_property

from qorch.adapters.simulators import local_devices
from qorch.domain.devices import Device


class DeviceCatalogue:
    def __init__(self, *, max_dense_qubits: int) -> None:
        self.max_dense_qubits = max_dense_qubits

    @cached_property
    def _devices(self) -> dict[str, Device]:
        return {device.id: device for device in local_devices(self.max_dense_qubits)}

    def list(self) -> list[Device]:
        return list(self._devices.values())

    def find(self, device_id: str) -> Device | None:
        return self._devices.get(device_id)
