"""The ionq provider."""

from __future__ import annotations

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ionq.provider import IonQProvider


def build(config: ProviderConfig) -> IonQProvider:
    return IonQProvider(config)
