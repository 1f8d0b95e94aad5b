"""IonQ's devices as qorch lists them: static data, no SDK, no network."""

from __future__ import annotations

from dataclasses import dataclass

from qorch.domain.devices import Device
from qorch.domain.execution import ProviderError

PROVIDER = "ionq"

QIS_BASIS: tuple[str, ...] = (
    "x",
    "y",
    "z",
    "h",
    "s",
    "sdg",
    "t",
    "tdg",
    "sx",
    "sxdg",
    "rx",
    "ry",
    "rz",
    "cx",
    "swap",
)
"""IonQ's "qis" gateset in Qiskit names (qiskit-ionq serialises si, ti, v, vi, cnot from these)."""

NOISE_MODELS: tuple[str, ...] = ("ideal", "aria-1", "aria-2", "forte-1", "forte-enterprise-1")
"""Noise models of IonQ's simulator (API v0.4)."""

CREDENTIAL = "ionq_api_key"


@dataclass(frozen=True)
class Spec:
    backend: str
    """The backend's name in IonQ's API."""
    name: str
    qubits: int
    simulator: bool
    price_key: str | None
    description: str


SPECS: dict[str, Spec] = {
    "ionq_simulator": Spec(
        "simulator",
        "IonQ simulator",
        29,
        True,
        None,
        "IonQ's cloud simulator (free): ideal, or with a QPU noise model via option noise_model "
        f"({', '.join(NOISE_MODELS)})",
    ),
    "ionq_aria_1": Spec(
        "qpu.aria-1",
        "IonQ Aria 1",
        25,
        False,
        "ionq:aria",
        "IonQ Aria 1 trapped-ion QPU, all-to-all connectivity; use_mitigation = IonQ debiasing",
    ),
    "ionq_forte_1": Spec(
        "qpu.forte-1",
        "IonQ Forte 1",
        36,
        False,
        "ionq:forte",
        "IonQ Forte 1 trapped-ion QPU, all-to-all connectivity; use_mitigation = IonQ debiasing",
    ),
}


def devices() -> list[Device]:
    return [
        Device(
            id=device_id,
            provider=PROVIDER,
            vendor="IonQ",
            name=spec.name,
            qubits=spec.qubits,
            simulator=spec.simulator,
            description=spec.description,
            basis_gates=QIS_BASIS,
            coupling_map=None,
            noisy=not spec.simulator,
            supports_statevector=False,
            remote=True,
            credentials=(CREDENTIAL,),
            price_key=spec.price_key,
            extra={"ionq_backend": spec.backend}
            | ({"noise_models": list(NOISE_MODELS)} if spec.simulator else {}),
        )
        for device_id, spec in SPECS.items()
    ]


def spec_of(device: Device) -> Spec:
    try:
        return SPECS[device.id]
    except KeyError:
        raise ProviderError("unknown_device", f"{device.id!r} is not an IonQ device") from None
