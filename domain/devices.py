"""What the domain needs to know about a device to validate a request against it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Device:
    id: str
    provider: str
    vendor: str
    name: str
    qubits: int
    simulator: bool
    status: str = "online"
    description: str = ""
    basis_gates: tuple[str, ...] = ()
    coupling_map: tuple[tuple[int, int], ...] | None = None
    noisy: bool = False
    supports_statevector: bool = False
    dynamic_circuits: tuple[str, ...] = ()
    """The dynamic-circuit features it runs (domain/dynamic.py names them); none: gates, then
    final measurements only."""
    remote: bool = False
    """Runs at a provider: submitted, its provider job recorded, then polled (not run inline)."""
    credentials: tuple[str, ...] = ()
    """Option names a real run needs (e.g. ionq_api_key); a dry run needs none."""
    price_key: str | None = None
    """The entry of the price table that prices this device (None: a free local simulator)."""
    requires: tuple[str, ...] = ()
    """What a worker must have to run this device's jobs (e.g. "gpu"); others never claim them."""
    extra: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "provider": self.provider,
            "vendor": self.vendor,
            "name": self.name,
            "qubits": self.qubits,
            "simulator": self.simulator,
            "status": self.status,
            "description": self.description,
            "noisy": self.noisy,
            "supports_statevector": self.supports_statevector,
            "dynamic_circuits": list(self.dynamic_circuits),
            "remote": self.remote,
            "credentials": list(self.credentials),
            "basis_gates": list(self.basis_gates),
            "coupling_map": [list(edge) for edge in self.coupling_map]
            if self.coupling_map is not None
            else None,
            **self.extra,
        }
