"""The device catalogue, plus the devices only some workers can run (GPU devices): listed, and
found by submits, while a live worker advertises what they need (executor/adverts.py).

Without such a worker they are neither listed nor found, so a submit for one answers 4xx
(unknown device) and records nothing; jobs already queued for one wait for such a worker.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from qorch.adapters.devices import DeviceCatalogue
from qorch.adapters.executor.adverts import Adverts
from qorch.adapters.providers import Registry
from qorch.adapters.quotas import Quotas
from qorch.domain.devices import Device


class WorkerDevices(Protocol):
    def devices(self, live: Iterable[Mapping[str, Any]]) -> list[Device]:
        """The devices these live workers' capabilities allow (each once)."""
        ...


class WorkerCatalogue(DeviceCatalogue):
    def __init__(
        self,
        registry: Registry,
        quotas: Quotas | None = None,
        sources: Sequence[WorkerDevices] = (),
        ttl: float = 30.0,
    ) -> None:
        super().__init__(registry, quotas)
        self.sources = tuple(sources)
        self.ttl = ttl
        """Seconds a worker's heartbeat stays live (one lease)."""
        self.adverts: Adverts | None = None
        self._seen = ""
        self._worker_devices: dict[str, Device] = {}

    def attach(self, adverts: Adverts) -> None:
        """The store's advertisements (they live in the event store, opened after the catalogue)."""
        self.adverts = adverts

    def list(self) -> list[Device]:
        return [*super().list(), *self.worker_devices().values()]

    def find(self, device_id: str) -> Device | None:
        return super().find(device_id) or self.worker_devices().get(device_id)

    def worker_devices(self) -> dict[str, Device]:
        if self.adverts is None or not self.sources:
            return {}
        live = self.adverts.live(self.ttl)
        seen = json.dumps(live, sort_keys=True, default=str)
        if seen != self._seen:
            limits = self.quotas.device_limits
            static = {device.id for device in super().list()}  # never shadowed
            found = [device for source in self.sources for device in source.devices(live)]
            self._worker_devices = {
                device.id: replace(
                    device, extra={**device.extra, "limits": limits(device.id, device.remote)}
                )
                for device in found
                if device.id not in static
            }
            self._seen = seen
        return self._worker_devices
