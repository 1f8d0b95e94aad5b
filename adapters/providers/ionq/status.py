"""What IonQ says of its backends now (GET /backends): status and average queue time per device.
IonQ gives no queue length."""

from __future__ import annotations

from typing import Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ionq.catalogue import SPECS
from qorch.adapters.providers.ionq.client import connect
from qorch.domain.devices import Device


def live_status(
    devices: list[Device], credentials: dict[str, str], config: ProviderConfig
) -> dict[str, dict[str, Any]]:
    answer = connect(credentials, config).get("backends", "backends")
    by_name = {b.get("backend"): b for b in answer if isinstance(b, dict)}
    statuses: dict[str, dict[str, Any]] = {}
    for device in devices:
        if device.id not in SPECS:
            continue
        backend = by_name.get(SPECS[device.id].backend)
        if backend is None:
            statuses[device.id] = {"status": "unknown", "queue_length": None}
            continue
        queue_ms = backend.get("average_queue_time")
        statuses[device.id] = {
            "status": _status(backend),
            "queue_length": None,
            "average_queue_seconds": queue_ms / 1000 if isinstance(queue_ms, int | float) else None,
            "last_updated": backend.get("last_updated"),
        }
    return statuses


def _status(backend: dict[str, Any]) -> str:
    status = backend.get("status")
    if status == "available":
        return "degraded" if backend.get("degraded") else "online"
    if status == "unavailable":
        return "offline"
    return str(status or "unknown")
