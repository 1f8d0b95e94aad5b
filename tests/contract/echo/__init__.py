"""Echo: a provider that lives only in the tests, to show that a provider is one package plus
one registry line. It runs circuits with Qiskit's reference primitives (exact statevectors,
seeded sampling) on one inline device and on one "remote" device whose jobs are handles that
carry everything a poll needs (so any worker process can poll them)."""

from __future__ import annotations

from qorch.adapters.providers.config import ProviderConfig
from tests.contract.echo.provider import EchoProvider


def build(config: ProviderConfig) -> EchoProvider:
    return EchoProvider(config)
