"""(i) Sampling sweep: a 14-qubit parameterised circuit with measurements x 300 parameter sets x
4000 shots as ONE `Run` job without observables, whose results are distributions (and counts).

The circuit (3 layers of `ry` on every qubit, each followed by a `cx` chain, then every qubit
measured; 42 parameters) goes over HTTP as OpenQASM 3. The time runs from sending the submit to
the Done document, results included, being read by the client. The baseline, in this process:
`AerSimulator().run(isa, parameter_binds=[...], shots=4000).result().get_counts()` on the same
QASM text loaded with `qasm3.loads` and transpiled like qorch does (preset pass manager,
optimization level 1, AerSimulator). A small warm-up of each side, then interleaved repeats;
medians and the ratio qorch/direct (target: at most 1.3x).

Checked on every repeat: results nest [1][300]; each distribution sums to 1 and each counts
dict to 4000; and they agree with the direct counts within the shot noise of two independent
samples: for every set, each qubit's marginal P(1) and each neighbouring pair's parity P(odd)
differ by at most 6 standard deviations (+ 2 shots), a test that a wrong parameter binding or a
reversed bit order fails by far. (A total variation distance per set would not separate them:
with 1000-2500 outcomes seen in 4000 shots, two direct samples of the same set are already
0.27-0.54 apart.)

    .venv/bin/python bench/bench_sampling.py [--quick] [--repeats R] [--poll-interval S]
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPEATS, Summary, bench_main, summary  # noqa: E402
from rows import Row, quantity  # noqa: E402
from stats import median, runs_line  # noqa: E402
from timeline import Case, interleaved, submit_and_read  # noqa: E402

QUBITS = 14
LAYERS = 3
SETS = 300
SHOTS = 4000
WARM_UP_SETS = 5
SEED = 20240613


class Sampling:
    """The workload, built once: QASM text, parameter values, the transpiled circuit and its
    binds for the direct run."""

    def __init__(self) -> None:
        from qiskit import QuantumCircuit, qasm3
        from qiskit.circuit import ParameterVector
        from qiskit.transpiler import generate_preset_pass_manager
        from qiskit_aer import AerSimulator

        theta = ParameterVector("θ", QUBITS * LAYERS)
        circuit = QuantumCircuit(QUBITS, QUBITS)
        for layer in range(LAYERS):
            for qubit in range(QUBITS):
                circuit.ry(theta[layer * QUBITS + qubit], qubit)
            for qubit in range(QUBITS - 1):
                circuit.cx(qubit, qubit + 1)
        circuit.measure(range(QUBITS), range(QUBITS))
        self.qasm = qasm3.dumps(circuit)
        # Values go in the loaded circuit's parameter order (`_θ_0_, _θ_10_, ...`: see bench_sweep).
        loaded = qasm3.loads(self.qasm)
        self.values = np.random.default_rng(SEED).uniform(
            0, 2 * np.pi, size=(SETS, loaded.num_parameters)
        )
        self.simulator = AerSimulator()
        manager = generate_preset_pass_manager(optimization_level=1, backend=self.simulator)
        self.isa = manager.run(loaded)
        names = [parameter.name for parameter in loaded.parameters]
        self.columns = {p: names.index(p.name) for p in self.isa.parameters}

    def body(self, experiment_id: str, sets: int) -> dict[str, Any]:
        return {
            "experiment_id": experiment_id,
            "device_id": "aer_simulator",
            "shots": SHOTS,
            "run_type": "Run",
            "circuits_qasm": [self.qasm],
            "parameters": [self.values[:sets].tolist()],
        }

    def run_direct(self, sets: int) -> tuple[float, list[dict[str, int]]]:
        binds = {p: self.values[:sets, column] for p, column in self.columns.items()}
        started = time.perf_counter()
        result = self.simulator.run(self.isa, parameter_binds=[binds], shots=SHOTS).result()
        counts = result.get_counts()
        seconds = time.perf_counter() - started
        return seconds, counts if isinstance(counts, list) else [counts]

    def title(self) -> str:
        return (
            f"(i) Sampling sweep: {QUBITS} qubits ({LAYERS} ry layers + cx chains, "
            f"{self.values.shape[1]} parameters) x {SETS} sets x {SHOTS} shots, Run, distributions"
        )

    def warm_up(self, client: httpx.Client, experiment_id: str) -> None:
        """Worker imports, the QASM parse and pass manager, Aer's first run."""
        submit_and_read(client, self.body(experiment_id, WARM_UP_SETS))
        self.run_direct(WARM_UP_SETS)

    def cases(self, experiment_id: str) -> list[Case]:
        return [Case(self.body(experiment_id, SETS), partial(self.run_direct, SETS), check)]


def marginals(distribution: dict[str, float]) -> np.ndarray:
    """Each qubit's P(1), then each neighbouring pair's P(odd parity) (bit i: clbit i)."""
    outcomes = np.array([int(key, 2) for key in distribution], dtype=np.int64)
    weights = np.array(list(distribution.values()), dtype=float)
    bits = (outcomes[:, None] >> np.arange(QUBITS)) & 1
    parities = bits[:, :-1] ^ bits[:, 1:]
    return np.concatenate([weights @ bits, weights @ parities])


def check(job: dict[str, Any], direct: list[dict[str, int]]) -> list[str]:
    if job.get("status") != "Done":
        return [f"job {job.get('id')}: status {job.get('status')}: {job.get('error')}"]
    results, counts = job["quantum_results"], job["counts"]
    if len(results) != 1 or len(results[0]) != SETS or not isinstance(results[0][0], dict):
        return [f"results do not nest [1][{SETS}] distributions"]
    problems: list[str] = []
    if counts is not None and (len(counts) != 1 or len(counts[0]) != SETS):
        problems.append(f"counts do not nest [1][{SETS}]")
        counts = None
    worst = 0.0
    for number, distribution in enumerate(results[0]):
        total = sum(distribution.values())
        if abs(total - 1) > 1e-9:
            problems.append(f"set {number}: the distribution sums to {total}")
        if counts is not None and sum(counts[0][number].values()) != SHOTS:
            problems.append(f"set {number}: counts sum to {sum(counts[0][number].values())}")
        if any(len(key) != QUBITS for key in distribution):
            problems.append(f"set {number}: outcomes are not {QUBITS}-bit strings")
            continue
        ours = marginals(distribution)
        theirs = marginals({k: v / SHOTS for k, v in direct[number].items()})
        pooled = (ours + theirs) / 2
        bound = 6 * np.sqrt(2 * pooled * (1 - pooled) / SHOTS) + 2 / SHOTS
        excess = np.abs(ours - theirs) / bound
        worst = max(worst, float(excess.max()))
        if excess.max() > 1:
            problems.append(f"set {number}: marginals differ from direct Aer beyond 6 sd")
    if worst:
        print(f"    largest marginal/parity difference: {worst:.2f} of the 6-sd bound")
    return problems


def run(
    quick: bool = False, repeats: int | None = None, poll_interval: str | None = None
) -> Summary:
    repeats = repeats or (1 if quick else 2)
    cases, problems = interleaved(Sampling(), "bench-sampling", repeats, poll_interval)
    measured = cases[0].measured
    q, d = median(measured.qorch), median(measured.direct)
    size = median([read.size for read in measured.reads])
    print(f"    {runs_line('direct AerSimulator.run counts', measured.direct)}")
    print(f"    {runs_line('qorch submit->Done+results    ', measured.qorch)}")
    print(f"    Done document {size / 1e6:.1f} MB (distributions, counts, uncertainties)")
    print("    where qorch's time goes (medians; event timestamps and job metadata):")
    measured.print_phases("      ")
    if not problems:
        print(f"    results nest [1][{SETS}], sum to 1 (counts to {SHOTS}), agree with direct Aer")
    row = Row("sampling", q, "s", d)
    return summary(
        "sampling",
        (
            f"1 job of {SETS} sets x {SHOTS} shots on {QUBITS} q: qorch median {quantity(q, 's')}"
            f" vs direct AerSimulator.run {quantity(d, 's')} (ratio {row.figure:.2f}x)"
        ),
        {"qorch_median_s": q, "direct_median_s": d, "ratio": row.figure},
        problems,
        [row],
    )


if __name__ == "__main__":
    bench_main(__doc__, run, "1 repeat instead of 2", poll=True, repeats=REPEATS)
