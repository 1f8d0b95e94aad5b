"""The provider registry: one `Provider` per name, built once from settings.

A provider is a package with a `build(config)` factory; adding one is a package plus one line
in `PACKAGES`. Packages import their SDKs lazily, so building the registry and listing devices
stays cheap. Nothing outside this module branches on a provider's name.
"""

from __future__ import annotations

import importlib
import os
import signal
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.devices import Device
from qorch.domain.ports import Provider

PACKAGES: dict[str, str] = {
    "local": "qorch.adapters.providers.local",
    "ibm": "qorch.adapters.providers.ibm",
    "braket": "qorch.adapters.providers.braket",
    "ionq": "qorch.adapters.providers.ionq",
}
"""Every provider qorch knows, local simulators first; settings choose which are listed."""


class Registry:
    def __init__(
        self,
        config: ProviderConfig | None = None,
        names: Iterable[str] | None = None,
        packages: Mapping[str, str] = PACKAGES,
    ) -> None:
        self.config = config or ProviderConfig()
        self.packages = dict(packages)
        self.names = tuple(names) if names is not None else tuple(self.packages)
        unknown = [name for name in self.names if name not in self.packages]
        if unknown:
            raise ValueError(f"unknown providers {unknown}; known: {sorted(self.packages)}")
        self._providers: dict[str, Provider] = {}

    def provider(self, name: str) -> Provider:
        found = self._providers.get(name)
        if found is None:
            package = importlib.import_module(self.packages[name])
            found = self._providers[name] = package.build(self.config)
        return found

    def provider_of(self, device: Device) -> Provider:
        return self.provider(device.provider)

    def devices(self) -> list[Device]:
        """The listed providers' devices, in registry order."""
        return [device for name in self.names for device in self.provider(name).devices()]

    def check_request(
        self, device: Device, run_type: str, options: dict[str, Any], mitigate: bool
    ) -> None:
        self.provider_of(device).check_request(device, run_type, options, mitigate)


WORKER_NICENESS = 10
"""Simulations yield the CPU to the API process: a status read stays fast while a 24-qubit run
keeps every core busy (the kernel still gives the workers whatever the API leaves idle)."""


@cache
def _become_a_worker() -> None:
    # A worker process lives and dies with its executor: SIGTERM or Ctrl-C sent to the whole
    # process group must not kill a simulation before the executor has released its job.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(WORKER_NICENESS)


def in_worker(provider: Provider, method: str, *args: Any) -> Any:
    """The entry point of every provider call made in a worker process."""
    _become_a_worker()
    return getattr(provider, method)(*args)


def warm_up(config: ProviderConfig | None = None) -> None:
    """Readies a worker process for the local simulators (the most frequent jobs)."""
    _become_a_worker()
    Registry(config, names=("local",)).provider("local").warm_up()
