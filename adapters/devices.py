"""The device catalogue across providers: static, so it is listed without credentials."""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property

from qorch.adapters.providers import Registry
from qorch.adapters.quotas import Quotas
from qorch.domain.devices import Device


class DeviceCatalogue:
    def __init__(self, registry: Registry, quotas: Quotas | None = None) -> None:
        self.registry = registry
        self.quotas = quotas or Quotas()

    @cached_property
    def _devices(self) -> dict[str, Device]:
        listed = self.registry.devices()
        # Each device says what one job may take on it (`limits`: time_seconds, memory_mb).
        limits = self.quotas.device_limits
        return {
            device.id: replace(
                device, extra={**device.extra, "limits": limits(device.id, device.remote)}
            )
            for device in listed
        }

    def list(self) -> list[Device]:
        return list(self._devices.values())

    def find(self, device_id: str) -> Device | None:
        return self._devices.get(device_id)
