"""The ibm provider: IBM Quantum Platform's QPUs and qiskit-ibm-runtime's local testing mode."""

from __future__ import annotations

from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.ibm.provider import IbmProvider


def build(config: ProviderConfig) -> IbmProvider:
    return IbmProvider(config)
