"""IBM's devices, listed offline from the calibration snapshots qiskit-ibm-runtime ships.

Real QPUs (`remote`, credential `ibm_quantum_token`, price key `ibm:pay_as_you_go`) are each
paired with the fake backend of the same name: that snapshot gives the catalogue's basis gates
and coupling map, and is the target a dry run transpiles to and times. Local testing mode devices
run the same primitives on Aer with the fake backend's noise (no network, no credentials).
Listing reads the snapshots' JSON files: importing the SDK costs about 1.5 s.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qorch.domain.devices import Device
from qorch.domain.execution import ProviderError

if TYPE_CHECKING:
    from qiskit.providers import BackendV2

PROVIDER = "ibm"
TOKEN_OPTION = "ibm_quantum_token"
INSTANCE_OPTION = "ibm_quantum_instance"
PRICE_KEY = "ibm:pay_as_you_go"
LOCAL_MAX_QUBITS = 24
"""Qubits one circuit may use in local testing mode (noisy Aer simulation is dense)."""


@dataclass(frozen=True)
class Hardware:
    snapshot: str
    """Folder of the calibration snapshot in qiskit_ibm_runtime/fake_provider/backends."""
    fake_class: str
    processor: str


QPUS: dict[str, Hardware] = {
    "ibm_brisbane": Hardware("brisbane", "FakeBrisbane", "Eagle r3"),
    "ibm_sherbrooke": Hardware("sherbrooke", "FakeSherbrooke", "Eagle r3"),
    "ibm_kyiv": Hardware("kyiv", "FakeKyiv", "Eagle r3"),
    "ibm_torino": Hardware("torino", "FakeTorino", "Heron r1"),
    "ibm_fez": Hardware("fez", "FakeFez", "Heron r2"),
    "ibm_marrakesh": Hardware("marrakesh", "FakeMarrakesh", "Heron r2"),
    "ibm_kingston": Hardware("kingston", "FakeKingston", "Heron r2"),
}
"""Real QPUs at IBM Quantum Platform -> their offline calibration snapshot."""

LOCAL_DEVICES: dict[str, Hardware] = {
    "runtime_fake_manila": Hardware("manila", "FakeManilaV2", "Falcon r5.11L"),
    "runtime_fake_brisbane": Hardware("brisbane", "FakeBrisbane", "Eagle r3"),
    "runtime_fake_torino": Hardware("torino", "FakeTorino", "Heron r1"),
}
"""Noisy devices run in qiskit-ibm-runtime's local testing mode."""


def devices() -> list[Device]:
    return list(_catalogue())


def hardware(device: Device) -> tuple[Hardware, bool]:
    """(hardware, remote) of one of our devices."""
    if device.id in QPUS:
        return QPUS[device.id], True
    if device.id in LOCAL_DEVICES:
        return LOCAL_DEVICES[device.id], False
    raise ProviderError("unknown_device", f"device {device.id!r} is not an IBM device")


def max_shots(device: Device) -> int:
    """The snapshot's shot limit (0: none given)."""
    return int(snapshot_configuration(hardware(device)[0].snapshot).get("max_shots", 0))


def snapshot_name(hardware: Hardware) -> str:
    return f"{hardware.fake_class} (qiskit-ibm-runtime {sdk_version()})"


@functools.cache
def fake_backend(fake_class: str) -> BackendV2:
    from qiskit_ibm_runtime import fake_provider

    backend: BackendV2 = getattr(fake_provider, fake_class)()
    return backend


@functools.cache
def sdk_version() -> str:
    try:
        return importlib_metadata.version("qiskit-ibm-runtime")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def snapshot_configuration(snapshot: str) -> dict[str, Any]:
    """The fake backend's configuration file, read without importing the SDK."""
    spec = importlib.util.find_spec("qiskit_ibm_runtime")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("qiskit-ibm-runtime is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "fake_provider" / "backends" / snapshot / f"conf_{snapshot}.json"
    conf: dict[str, Any] = json.loads(path.read_text())
    return conf


@functools.cache
def _catalogue() -> tuple[Device, ...]:
    return (
        *(_device(device_id, found, remote=True) for device_id, found in QPUS.items()),
        *(_device(device_id, found, remote=False) for device_id, found in LOCAL_DEVICES.items()),
    )


def _device(device_id: str, hardware: Hardware, *, remote: bool) -> Device:
    conf = snapshot_configuration(hardware.snapshot)
    qubits = int(conf["n_qubits"])
    coupling = tuple(sorted({(int(a), int(b)) for a, b in conf.get("coupling_map") or []}))
    basis = tuple(sorted(g for g in conf.get("basis_gates", ()) if g not in ("delay", "reset")))
    backend_name = conf.get("backend_name", hardware.snapshot)
    if remote:
        description = (
            f"IBM Quantum {hardware.processor} QPU, {qubits} qubits, through IBM Quantum "
            "Platform (pay-as-you-go QPU time). Dry runs transpile and time circuits offline "
            f"against the calibration snapshot {snapshot_name(hardware)}."
        )
        name = f"{device_id} ({hardware.processor})"
    else:
        description = (
            f"qiskit-ibm-runtime local testing mode: the {hardware.processor} device "
            f"{backend_name} simulated by Aer with its noise (snapshot "
            f"{snapshot_name(hardware)}), run by the same Sampler/Estimator primitives as the QPUs."
        )
        name = f"Local testing mode: {backend_name}"
    from qorch.adapters.providers.pipeline.dynamic import (
        aer_dynamic_circuits,
        feedforward_dynamic_circuits,
    )

    instructions = conf.get("supported_instructions") or ()
    return Device(
        id=device_id,
        provider=PROVIDER,
        vendor="IBM",
        name=name,
        qubits=qubits,
        simulator=not remote,
        status="online",
        description=description,
        basis_gates=basis,
        coupling_map=coupling,
        noisy=True,
        supports_statevector=False,
        dynamic_circuits=feedforward_dynamic_circuits(instructions)
        if remote
        else aer_dynamic_circuits("automatic", instructions),
        remote=remote,
        credentials=(TOKEN_OPTION,) if remote else (),
        price_key=PRICE_KEY if remote else None,
        extra={
            "processor": hardware.processor,
            "calibration_snapshot": hardware.fake_class,
            "execution": "ibm_quantum_platform" if remote else "local_testing_mode",
        },
    )
