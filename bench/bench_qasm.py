"""(d) Parsing: a 20-qubit, 2000-gate OpenQASM 3 circuit through qorch's parser vs qasm3.loads.

qorch takes Qiskit's fast Rust parser when the program is in its safe subset and falls back to
qiskit-qasm3-import otherwise; this measures that the fast path is faster, never slower.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from qiskit import QuantumCircuit, qasm2, qasm3

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Summary  # noqa: E402

from qorch.adapters.qasm import parse_circuit  # noqa: E402


def random_circuit(qubits: int = 20, gates: int = 2000, seed: int = 7) -> QuantumCircuit:
    rng = np.random.default_rng(seed)
    circuit = QuantumCircuit(qubits, qubits)
    for _ in range(gates):
        kind = rng.integers(5)
        a, b = (int(x) for x in rng.choice(qubits, 2, replace=False))
        if kind == 0:
            circuit.h(a)
        elif kind == 1:
            circuit.rz(float(rng.uniform(0.1, 3.0)), a)
        elif kind == 2:
            circuit.sx(a)
        elif kind == 3:
            circuit.cx(a, b)
        else:
            circuit.cz(a, b)
    circuit.measure(range(qubits), range(qubits))
    return circuit


def median_seconds(parse: object, source: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        parse(source)  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(quick: bool = False) -> Summary:
    repeats = 3 if quick else 7
    circuit = random_circuit()
    source3, source2 = qasm3.dumps(circuit), qasm2.dumps(circuit)
    ours3 = median_seconds(parse_circuit, source3, repeats)
    theirs3 = median_seconds(qasm3.loads, source3, repeats)
    ours2 = median_seconds(parse_circuit, source2, repeats)
    theirs2 = median_seconds(
        lambda s: qasm2.loads(s, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS),
        source2,
        repeats,
    )
    print(f"(d) Parsing a 20-qubit, 2000-gate circuit (median of {repeats})")
    print(
        f"    QASM 3: qorch parse_circuit {ours3 * 1e3:8.1f} ms"
        f"   qasm3.loads {theirs3 * 1e3:8.1f} ms"
        f"   ratio {ours3 / theirs3:.3f}x"
    )
    print(
        f"    QASM 2: qorch parse_circuit {ours2 * 1e3:8.1f} ms"
        f"   qasm2.loads {theirs2 * 1e3:8.1f} ms"
        f"   ratio {ours2 / theirs2:.3f}x (ours adds metrics)"
    )
    problems = [] if ours3 < theirs3 else ["QASM 3 parsing is not faster than qasm3.loads"]
    headline = (
        f"QASM 3 2000 gates: qorch {ours3 * 1e3:.0f} ms vs qasm3.loads {theirs3 * 1e3:.0f} ms "
        f"(ratio {ours3 / theirs3:.3f}x); QASM 2: {ours2 * 1e3:.0f} ms vs {theirs2 * 1e3:.0f} ms"
    )
    return Summary("qasm", headline, {"qasm3_ratio": ours3 / theirs3}, problems)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args()
    sys.exit(1 if run(arguments.quick).problems else 0)
