"""The catalogue of local simulators: ideal Aer methods and noisy copies of IBM devices.

Noisy devices come from qiskit-ibm-runtime's fake backends. Importing that package takes about
two seconds, so the listing reads the same configuration files the fake backends are built from
(`conf_<name>.json` shipped inside the package) and only falls back to building the backend when
those files cannot be found.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qorch.domain.devices import Device

if TYPE_CHECKING:
    from qiskit.providers import BackendV2
    from qiskit_aer import AerSimulator

PROVIDER = "local"
DEFAULT_MAX_DENSE_QUBITS = 26
MPS_QUBITS = 100
STABILIZER_QUBITS = 1000

AER_METHODS: dict[str, str] = {
    "aer_simulator": "automatic",
    "aer_simulator_statevector": "statevector",
    "aer_simulator_matrix_product_state": "matrix_product_state",
    "aer_simulator_density_matrix": "density_matrix",
    "aer_simulator_stabilizer": "stabilizer",
}
"""Ideal devices: id -> Aer simulation method."""

FAKE_BACKENDS: dict[str, str] = {
    "fake_manila": "FakeManilaV2",
    "fake_nairobi": "FakeNairobiV2",
    "fake_guadalupe": "FakeGuadalupeV2",
    "fake_kolkata": "FakeKolkataV2",
    "fake_brisbane": "FakeBrisbane",
    "fake_sherbrooke": "FakeSherbrooke",
    "fake_torino": "FakeTorino",
}
"""Noisy devices: id -> class in `qiskit_ibm_runtime.fake_provider`."""

_DESCRIPTIONS = {
    "automatic": "Aer picks the method per circuit (stabilizer for Clifford circuits, else dense)",
    "statevector": "Dense statevector, exact amplitudes",
    "matrix_product_state": "Matrix product state, efficient for weakly entangled circuits",
    "density_matrix": "Dense density matrix (half the dense qubit budget)",
    "stabilizer": "Clifford circuits only, scales to many qubits",
}

# Target operations that are not gates a circuit is written in.
_NOT_GATES = frozenset(
    {
        "measure",
        "reset",
        "delay",
        "barrier",
        "store",
        "if_else",
        "for_loop",
        "while_loop",
        "switch_case",
        "break_loop",
        "continue_loop",
        "kraus",
        "superop",
        "roerror",
        "qerror_loc",
        "quantum_channel",
    }
)


def _gates(names: Iterable[str]) -> tuple[str, ...]:
    kept = (n for n in names if n not in _NOT_GATES and not n.startswith(("save_", "set_")))
    return tuple(sorted(kept))


def local_devices(max_dense_qubits: int = DEFAULT_MAX_DENSE_QUBITS) -> list[Device]:
    """All local devices; `max_dense_qubits` caps the dense (statevector) methods."""
    return list(_catalogue(max_dense_qubits))


def find_local_device(
    device_id: str, max_dense_qubits: int = DEFAULT_MAX_DENSE_QUBITS
) -> Device | None:
    if device_id in AER_METHODS:
        return _aer_device(device_id, max_dense_qubits)
    if device_id in FAKE_BACKENDS:
        return _fake_device(device_id)
    return None


def aer_method(device_id: str) -> str:
    """The Aer method an ideal device runs with (noisy devices use "automatic")."""
    return AER_METHODS.get(device_id, "automatic")


@functools.cache
def ideal_simulator(method: str) -> AerSimulator:
    from qiskit_aer import AerSimulator

    return AerSimulator(method=method)


@functools.cache
def fake_backend(device_id: str) -> BackendV2:
    from qiskit_ibm_runtime import fake_provider

    backend: BackendV2 = getattr(fake_provider, FAKE_BACKENDS[device_id])()
    return backend


@functools.cache
def _catalogue(max_dense_qubits: int) -> tuple[Device, ...]:
    ideal = [_aer_device(device_id, max_dense_qubits) for device_id in AER_METHODS]
    return (*ideal, *(_fake_device(device_id) for device_id in FAKE_BACKENDS))


@functools.cache
def _aer_device(device_id: str, max_dense_qubits: int) -> Device:
    method = AER_METHODS[device_id]
    target = ideal_simulator(method).target
    allowed = {
        "matrix_product_state": MPS_QUBITS,
        "stabilizer": STABILIZER_QUBITS,
        "density_matrix": max_dense_qubits // 2,
    }.get(method, max_dense_qubits)
    return Device(
        id=device_id,
        provider=PROVIDER,
        vendor="Qiskit Aer",
        name=f"Aer simulator ({method.replace('_', ' ')})",
        # Never more than Aer itself accepts (its MPS target stops at 63 qubits).
        qubits=min(allowed, target.num_qubits or allowed),
        simulator=True,
        description=_DESCRIPTIONS[method],
        basis_gates=_gates(target.operation_names),
        coupling_map=None,
        noisy=False,
        supports_statevector=method in ("automatic", "statevector"),
        extra={"method": method},
    )


@functools.cache
def _fake_device(device_id: str) -> Device:
    meta = _fake_metadata(device_id)
    return Device(
        id=device_id,
        provider=PROVIDER,
        vendor="Qiskit Aer",
        name=f"Noisy simulator of {meta['based_on']}",
        qubits=meta["qubits"],
        simulator=True,
        description=(
            f"Aer with the noise model, basis gates and coupling map of {meta['based_on']} "
            "(snapshot shipped with qiskit-ibm-runtime)"
        ),
        basis_gates=meta["basis_gates"],
        coupling_map=meta["coupling_map"],
        noisy=True,
        supports_statevector=False,
        extra={"method": "automatic", "based_on": meta["based_on"]},
    )


def _fake_metadata(device_id: str) -> dict[str, Any]:
    conf = _fake_conf(device_id)
    if conf is not None:
        return {
            "qubits": int(conf["n_qubits"]),
            "basis_gates": _gates(conf["basis_gates"]),
            "coupling_map": tuple(sorted((int(a), int(b)) for a, b in conf["coupling_map"])),
            "based_on": str(conf["backend_name"]),
        }
    return fake_metadata_from_backend(device_id)


def fake_metadata_from_backend(device_id: str) -> dict[str, Any]:
    """The slow path: build the fake backend and read its target."""
    backend = fake_backend(device_id)
    target = backend.target
    coupling = target.build_coupling_map()
    edges = coupling.get_edges() if coupling is not None else []
    return {
        "qubits": backend.num_qubits,
        "basis_gates": _gates(target.operation_names),
        "coupling_map": tuple(sorted((int(a), int(b)) for a, b in edges)),
        "based_on": device_id,
    }


def _fake_conf(device_id: str) -> dict[str, Any] | None:
    # find_spec on a top-level package locates it without importing it.
    spec = importlib.util.find_spec("qiskit_ibm_runtime")
    if spec is None or not spec.submodule_search_locations:
        return None
    short = device_id.removeprefix("fake_")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "fake_provider" / "backends" / short / f"conf_{short}.json"
    try:
        conf: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not {"n_qubits", "basis_gates", "coupling_map", "backend_name"} <= conf.keys():
        return None
    return conf
