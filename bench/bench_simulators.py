"""(j) Exact runs at size: a 24-qubit dense StatevectorRun, and a 60-qubit one on the matrix
product state.

Both circuits are GHZ-like: ry(theta) on qubit 0, then a CX chain, so the exact values are known
in closed form: <Z_0> = cos(theta), <X...X> = sin(theta), <Z_0 Z_{n-1}> = 1.

- Dense, 24 qubits (the default StatevectorRun cap; 256 MiB of amplitudes): a `StatevectorRun`
  with those three observables on `aer_simulator_statevector`, from sending the submit to the
  Done document read, against Qiskit's own `Statevector(circuit)` and `expectation_value` of
  the same observables in this process. Target: at most 1x. A full state of 24 qubits (16.8 M
  amplitudes, 4.8 GiB as returned) is refused by the result and memory limits, so both sides
  compute the exact state and return the expectation values.
- MPS, 60 qubits: the same with 60 qubits on `aer_simulator_matrix_product_state` (no truncation;
  a dense state would need 16 EiB). Target: at most 1 s from submit to Done; the baseline shown is
  Aer's `EstimatorV2` on the same exact MPS simulator in this process.

Values must agree with the closed form to 1e-10 (a problem otherwise).

    .venv/bin/python bench/bench_simulators.py [--quick] [--repeats R] [--poll-interval S]
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Summary, bench_main, served, summary, title  # noqa: E402
from rows import Row, quantity  # noqa: E402
from stats import median, runs_text  # noqa: E402
from timeline import Measured, Read, submit_and_read  # noqa: E402

DENSE_QUBITS = 24
MPS_QUBITS = 60
THETA = 0.7
TOLERANCE = 1e-10
MPS_OPTIONS = {
    "matrix_product_state_truncation_threshold": 0.0,
    "matrix_product_state_max_bond_dimension": None,
}


def ghz_like(qubits: int) -> str:
    chain = "".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(qubits - 1))
    return f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{qubits}];\nry({THETA}) q[0];\n{chain}'


def labels(qubits: int) -> list[str]:
    """Z on qubit 0, X on every qubit, Z on qubits 0 and n-1 (qubit 0 is the rightmost)."""
    return ["I" * (qubits - 1) + "Z", "X" * qubits, "Z" + "I" * (qubits - 2) + "Z"]


EXACT = [math.cos(THETA), math.sin(THETA), 1.0]


def body(experiment_id: str, qubits: int, device_id: str) -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "device_id": device_id,
        "run_type": "StatevectorRun",
        "circuits_qasm": [ghz_like(qubits)],
        "observables": [[[[label], [1.0]] for label in labels(qubits)]],
    }


def check(read: Read, what: str) -> list[str]:
    job = read.job
    if job.get("status") != "Done":
        return [f"{what}: job {job.get('id')} {job.get('status')}: {job.get('error')}"]
    values = job["quantum_results"][0]
    worst = max(abs(v - e) for v, e in zip(values, EXACT, strict=True))
    if worst > TOLERANCE:
        return [f"{what}: values {values} differ from the exact {EXACT} by {worst:.3g}"]
    return []


def qiskit_statevector(qubits: int) -> tuple[float, list[float]]:
    """Seconds Qiskit's own Statevector takes for the state and the three expectation values."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp, Statevector

    circuit = QuantumCircuit.from_qasm_str(ghz_like(qubits))
    started = time.perf_counter()
    state = Statevector(circuit)
    values = [float(state.expectation_value(SparsePauliOp(p)).real) for p in labels(qubits)]
    return time.perf_counter() - started, values


def aer_mps(qubits: int) -> tuple[float, list[float]]:
    """Seconds Aer's EstimatorV2 takes on the exact MPS simulator (transpiled beforehand)."""
    from qiskit import QuantumCircuit, transpile
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import EstimatorV2

    simulator = AerSimulator(method="matrix_product_state", **MPS_OPTIONS)
    circuit = transpile(QuantumCircuit.from_qasm_str(ghz_like(qubits)), simulator)
    observables = [[SparsePauliOp(p)] for p in labels(qubits)]
    estimator = EstimatorV2.from_backend(simulator)
    started = time.perf_counter()
    result = estimator.run([(circuit, observables)], precision=0).result()
    values = [float(v) for v in result[0].data.evs.ravel()]
    return time.perf_counter() - started, values


def run(
    quick: bool = False, repeats: int | None = None, poll_interval: str | None = None
) -> Summary:
    repeats = repeats or (1 if quick else 2)
    mps_repeats = 3 * repeats
    title(
        f"(j) Exact runs: StatevectorRun of a {DENSE_QUBITS}-qubit GHZ-like circuit (dense) vs "
        f"Qiskit Statevector; {MPS_QUBITS} qubits on the matrix product state; 3 observables"
    )
    problems: list[str] = []
    dense, mps = Measured(), Measured()
    with served(poll_interval) as server, server.client(timeout=600) as client:
        experiment_id = server.create_experiment("bench-simulators")
        dense_body = body(experiment_id, DENSE_QUBITS, "aer_simulator_statevector")
        mps_body = body(experiment_id, MPS_QUBITS, "aer_simulator_matrix_product_state")
        # Warm-up: the worker's imports and the statevector simulator's pass manager.
        problems += check(
            submit_and_read(client, body(experiment_id, 12, "aer_simulator_statevector")), "warm-up"
        )
        problems += check(submit_and_read(client, mps_body), "warm-up")
        for _ in range(repeats):
            dense.add(submit_and_read(client, dense_body))
        for _ in range(mps_repeats):
            mps.add(submit_and_read(client, mps_body))
    for read in dense.reads:
        problems += check(read, f"dense {DENSE_QUBITS} qubits")
    for read in mps.reads:
        problems += check(read, f"MPS {MPS_QUBITS} qubits")
    qiskit_seconds, qiskit_values = qiskit_statevector(DENSE_QUBITS)
    aer_seconds, aer_values = aer_mps(MPS_QUBITS)
    for what, values in (("Qiskit Statevector", qiskit_values), ("Aer MPS", aer_values)):
        if max(abs(v - e) for v, e in zip(values, EXACT, strict=True)) > TOLERANCE:
            problems.append(f"baseline {what}: values {values}, exact {EXACT}")
    dense_row = Row("statevector_24q", median(dense.qorch), "s", baseline=qiskit_seconds)
    mps_row = Row("mps_60q", median(mps.qorch), "s", baseline=aer_seconds)
    report(f"dense {DENSE_QUBITS} qubits", dense, "Qiskit Statevector", qiskit_seconds)
    report(f"MPS {MPS_QUBITS} qubits", mps, "Aer EstimatorV2 (MPS)", aer_seconds)
    if not problems:
        print(f"    values agree with the closed form to {TOLERANCE:g}")
    return summary(
        "simulators",
        (
            f"StatevectorRun {DENSE_QUBITS} q {quantity(dense_row.value, 's')} vs Qiskit "
            f"Statevector {quantity(qiskit_seconds, 's')} ({dense_row.figure:.2f}x); "
            f"MPS {MPS_QUBITS} q {quantity(mps_row.value, 's')} (exact)"
        ),
        {
            "dense_qorch_median_s": dense_row.value,
            "dense_qiskit_statevector_s": qiskit_seconds,
            "dense_ratio": dense_row.figure,
            "mps_qorch_median_s": mps_row.value,
            "mps_direct_aer_s": aer_seconds,
        },
        problems,
        [dense_row, mps_row],
    )


def report(what: str, measured: Measured, baseline: str, baseline_seconds: float) -> None:
    middle = quantity(median(measured.qorch), "s")
    print(
        f"    {what}: qorch submit->Done+results median {middle}  runs {runs_text(measured.qorch)}"
    )
    print(f"      {baseline}: {quantity(baseline_seconds, 's')}")
    if any(read.phases for read in measured.reads):
        print("      where qorch's time goes (median):")
        measured.print_phases("        ")


if __name__ == "__main__":
    bench_main(
        __doc__,
        run,
        "1 dense and 3 MPS jobs instead of 2 and 6",
        poll=True,
        repeats="dense jobs (MPS jobs: three times as many)",
    )
