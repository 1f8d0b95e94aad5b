"""The braket provider: Amazon Braket's local simulators, managed simulators and QPUs."""

from __future__ import annotations

from qorch.adapters.providers.braket.provider import BraketProvider
from qorch.adapters.providers.config import ProviderConfig
from qorch.domain.ports import Provider


def build(config: ProviderConfig) -> Provider:
    return BraketProvider(config)
