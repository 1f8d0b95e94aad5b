"""The device catalogue across providers: static, so it is listed without credentials."""

from __future__ import annotations

from functools import cached_property

from qorch.adapters import providers
from qorch.domain.devices import Device


class DeviceCatalogue:
    def __init__(
        self,
        *,
        max_dense_qubits: int,
        providers: tuple[str, ...] = ("local", "ibm", "braket", "ionq"),
    ) -> None:
        self.max_dense_qubits = max_dense_qubits
        self.providers = providers

    @cached_property
    def _devices(self) -> dict[str, Device]:
        listed = providers.catalogue(self.providers, self.max_dense_qubits)
        return {device.id: device for device in listed}

    def list(self) -> list[Device]:
        return list(self._devices.values())

    def find(self, device_id: str) -> Device | None:
        return self._devices.get(device_id)
