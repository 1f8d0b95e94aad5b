"""The local provider: Aer simulators, ideal and noisy (fake IBM devices)."""

from __future__ import annotations

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.local.provider import LocalProvider


def build(config: ProviderConfig) -> LocalProvider:
    return LocalProvider(config)
