"""The ibm provider."""

from __future__ import annotations

from qorch.adapters.providers._legacy import ModuleProvider
from qorch.adapters.providers.config import ProviderConfig


def build(config: ProviderConfig) -> ModuleProvider:
    return ModuleProvider("ibm", "qorch.adapters.providers.ibm.provider", config)
