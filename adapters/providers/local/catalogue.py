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
from qorch.domain.statevector import OBSERVABLES_QUBITS

if TYPE_CHECKING:
    from qiskit.providers import BackendV2
    from qiskit_aer import AerSimulator

PROVIDER = "local"
DEFAULT_MAX_DENSE_QUBITS = 26
MPS_QUBITS = 100
STABILIZER_QUBITS = 1000
MPS_METHOD = "matrix_product_state"
EXACT_MPS_OPTIONS: dict[str, Any] = {
    "matrix_product_state_truncation_threshold": 0.0,
    "matrix_product_state_max_bond_dimension": None,
}
"""No Schmidt coefficient is discarded for a threshold or a bond dimension: only those Aer
itself rounds to zero (squares below 1e-16), so expectation values are exact to about 1e-8."""

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
    "matrix_product_state": "Matrix product state without truncation, efficient for weakly "
    "entangled circuits; a StatevectorRun with observables gets exact expectation values past "
    "the dense qubit cap",
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
    """The Aer method an ideal device runs with (noisy devices use "automatic"); for a GPU
    device, the key of its GPU simulator (gpu.py)."""
    from qorch.adapters.providers.local.gpu import simulator_key

    return AER_METHODS.get(device_id) or simulator_key(device_id) or "automatic"


@functools.cache
def ideal_simulator(method: str) -> AerSimulator:
    from qiskit_aer import AerSimulator

    from qorch.adapters.providers.local.gpu import aer_options

    exact = EXACT_MPS_OPTIONS if method == MPS_METHOD else {}
    return AerSimulator(**aer_options(method), **exact)


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
    # Never more than Aer itself accepts (its MPS target stops at 63 qubits).
    qubits = min(allowed, target.num_qubits or allowed)
    from qorch.adapters.providers.pipeline.dynamic import aer_dynamic_circuits

    return Device(
        id=device_id,
        provider=PROVIDER,
        vendor="Qiskit Aer",
        name=f"Aer simulator ({method.replace('_', ' ')})",
        qubits=qubits,
        simulator=True,
        description=_DESCRIPTIONS[method],
        basis_gates=_gates(target.operation_names),
        coupling_map=None,
        noisy=False,
        supports_statevector=method in ("automatic", "statevector", MPS_METHOD),
        dynamic_circuits=aer_dynamic_circuits(method),
        # A matrix product state computes exact expectation values without a dense state.
        extra={"method": method, **({OBSERVABLES_QUBITS: qubits} if method == MPS_METHOD else {})},
    )


@functools.cache
def _fake_device(device_id: str) -> Device:
    from qorch.adapters.providers.pipeline.dynamic import aer_dynamic_circuits

    meta = _fake_metadata(device_id)
    # The transpiler refuses control flow the device's target lacks (no while_loop on any).
    target = (_fake_conf(device_id) or {}).get("supported_instructions", ())
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
        dynamic_circuits=aer_dynamic_circuits("automatic", target),
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
