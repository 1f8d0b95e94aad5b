"""What the domain needs to know about a device to validate a request against it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


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
    noisy: bool = False
    supports_statevector: bool = False
    dynamic_circuits: tuple[str, ...] = ()
    """The dynamic-circuit features it runs (domain/dynamic.py names them); none: gates, then
    final measurements only."""
    remote: bool = False
    """Runs at a provider: submitted, its provider job recorded, then polled (not run inline)."""
    credentials: tuple[str, ...] = ()
    """Option names a real run needs (e.g. ionq_api_key); a dry run needs none."""
    basis_gates: tuple[str, ...] = ()
    coupling_map: tuple[tuple[int, int], ...] | None = None
    price_key: str | None = None
    """The entry of the price table that prices this device (None: a free local simulator)."""
    requires: tuple[str, ...] = ()
    """What a worker must have to run this device's jobs (e.g. "gpu"); others never claim them."""
    extra: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """As `GET /devices` lists it: every field but qorch's own, then `extra`'s."""
        listed = {
            f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name not in UNLISTED
        }
        return {**listed, **self.extra}


UNLISTED = frozenset({"price_key", "requires", "extra"})
"""The fields a device listing leaves out."""


def _plain(value: object) -> object:
    """Tuples (of tuples) as lists, as JSON has them."""
    return [_plain(item) for item in value] if isinstance(value, tuple) else value
