"""The ionq provider."""

from __future__ import annotations

from qorch.adapters.providers._legacy import ModuleProvider
from qorch.adapters.providers.config import ProviderConfig


def build(config: ProviderConfig) -> ModuleProvider:
    return ModuleProvider("ionq", "qorch.adapters.providers.ionq.provider", config)
