"""What the IonQ fake runs: a qis gate list (IonQ's JSON circuit) rebuilt in Qiskit, its exact
probabilities, and noisy sampling for noise models and QPUs."""

from __future__ import annotations

from typing import Any

import numpy as np

_ONE_QUBIT = {
    "x": "x",
    "not": "x",
    "y": "y",
    "z": "z",
    "h": "h",
    "s": "s",
    "si": "sdg",
    "t": "t",
    "ti": "tdg",
    "v": "sx",
    "vi": "sxdg",
}
_ROTATIONS = {"rx": "rx", "ry": "ry", "rz": "rz"}
_TWO_QUBIT_ROTATIONS = {"xx": "rxx", "yy": "ryy", "zz": "rzz"}


def simulate(gates: list[dict[str, Any]], qubits: int) -> tuple[np.ndarray, dict[str, int]]:
    """Exact probabilities (index = measured integer, qubit 0 least significant) and gate counts."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import library
    from qiskit.quantum_info import Statevector

    if qubits < 1:
        raise ValueError("input.qubits must be at least 1")
    circuit = QuantumCircuit(qubits)
    counts = {"1q": 0, "2q": 0}

    def indices(gate: dict[str, Any], single: str, many: str) -> list[int]:
        values = gate.get(many)
        if values is None:
            values = [gate[single]] if single in gate else []
        result = [int(v) for v in values]
        if any(not 0 <= q < qubits for q in result):
            raise ValueError(f"gate {gate} addresses a qubit outside 0..{qubits - 1}")
        return result

    for gate in gates:
        name = gate.get("gate")
        targets = indices(gate, "target", "targets")
        controls = indices(gate, "control", "controls")
        if name == "cnot":
            name = "x"
        rotation = float(gate.get("rotation") or 0.0)
        if name in _ONE_QUBIT:
            operation = getattr(library, _class(_ONE_QUBIT[name]))()
        elif name in _ROTATIONS:
            operation = getattr(library, _class(_ROTATIONS[name]))(rotation)
        elif name in _TWO_QUBIT_ROTATIONS:
            operation = getattr(library, _class(_TWO_QUBIT_ROTATIONS[name]))(rotation)
        elif name == "swap":
            operation = library.SwapGate()
        else:
            raise ValueError(f"unsupported qis gate {name!r}")
        if "rotation" in gate and name == "z" and controls:
            operation = library.PhaseGate(rotation)  # qiskit-ionq's cp -> z + rotation
        if len(targets) != operation.num_qubits:
            raise ValueError(f"gate {name!r} needs {operation.num_qubits} target(s)")
        if controls:
            operation = operation.control(len(controls))
        circuit.append(operation, controls + targets)
        counts["1q" if len(controls) + len(targets) == 1 else "2q"] += 1
    return Statevector(circuit).probabilities(), counts


def _class(name: str) -> str:
    return {
        "x": "XGate",
        "y": "YGate",
        "z": "ZGate",
        "h": "HGate",
        "s": "SGate",
        "sdg": "SdgGate",
        "t": "TGate",
        "tdg": "TdgGate",
        "sx": "SXGate",
        "sxdg": "SXdgGate",
        "rx": "RXGate",
        "ry": "RYGate",
        "rz": "RZGate",
        "rxx": "RXXGate",
        "ryy": "RYYGate",
        "rzz": "RZZGate",
    }[name]


def noisy_sample(
    probabilities: np.ndarray, noise: float, shots: int, seed: int | None
) -> np.ndarray:
    mixed = (1 - noise) * probabilities + noise / len(probabilities)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(shots, mixed / mixed.sum())
    return counts / shots
