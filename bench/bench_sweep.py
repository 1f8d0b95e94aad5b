"""(b) Parameter sweep: efficient_su2(10) x 1000 parameter sets x 10 observables as ONE job, as
a shots-based `Run` and as an exact `StatevectorRun`.

The circuit goes over HTTP as OpenQASM 3 (`qiskit.qasm3.dumps`), with 1000 parameter sets and 10
random 10-qubit Pauli strings (coefficient 1.0, fixed seed). The time runs from sending the
submit to the Done document, results included, being read by the client. Two variants, each
against Aer's EstimatorV2 called in this process on the same PUB (the same QASM text loaded with
`qasm3.loads`, transpiled once like qorch does: preset pass manager, optimization level 1, for
the simulator that runs the job; observables (10, 1), parameter values (1000, k)):

- `Run`, shots 4096: qorch's precision is 1/sqrt(shots) = 1/64; baseline
  `EstimatorV2.from_backend(AerSimulator())` with precision 1/64. Target: at most 1.3x. Values
  agree within 6 standard deviations of the shot noise.
- `StatevectorRun`: exact values; qorch runs it on `aer_simulator_statevector`; baseline
  `EstimatorV2.from_backend(AerSimulator(method="statevector"))` with precision 0 (Aer then adds
  no noise: `save_expectation_value` on the state). Target: at most 1.1x. Values agree to 1e-9.

Runs are interleaved (Run, its baseline, StatevectorRun, its baseline); medians are reported.
Parameters bind in the parsed circuit's `parameters` order. After a QASM 3 round trip the
ParameterVector elements θ[i] become plain parameters `_θ_i_`, which Qiskit sorts by name
(`_θ_0_, _θ_10_, _θ_11_, ...`), so the values are generated in the order of the loaded circuit.

    .venv/bin/python bench/bench_sweep.py [--quick] [--repeats R] [--poll-interval S]
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPEATS, Summary, bench_main, summary  # noqa: E402
from rows import Row, quantity  # noqa: E402
from stats import median, runs_line  # noqa: E402
from timeline import Case, Measured, interleaved, submit_and_read  # noqa: E402

QUBITS = 10
SETS = 1000
OBSERVABLES = 10
SHOTS = 4096
SEED = 20240601


@dataclass(frozen=True)
class Variant:
    key: str
    """Its row in rows.TABLE / rows.EXTRA."""
    run_type: str
    method: str
    """The Aer method of the simulator qorch runs it on (the baseline uses the same)."""
    precision: float
    agreement: str


VARIANTS = (
    Variant("shots_sweep", "Run", "automatic", 1 / math.sqrt(SHOTS), "within 6 sd of the noise"),
    Variant("statevector_sweep", "StatevectorRun", "statevector", 0.0, "within 1e-9"),
)


class Sweep:
    """The workload, built once: QASM text, parameter values, observables, a PUB per variant."""

    def __init__(self) -> None:
        from qiskit import qasm3
        from qiskit.circuit.library import efficient_su2
        from qiskit.quantum_info import SparsePauliOp
        from qiskit.transpiler import generate_preset_pass_manager
        from qiskit_aer import AerSimulator
        from qiskit_aer.primitives import EstimatorV2

        rng = np.random.default_rng(SEED)
        self.qasm = qasm3.dumps(efficient_su2(QUBITS))
        circuit = qasm3.loads(self.qasm)
        self.num_parameters = circuit.num_parameters
        self.values = rng.uniform(0, 2 * np.pi, size=(SETS, self.num_parameters))
        self.paulis = ["".join(rng.choice(list("IXYZ"), size=QUBITS)) for _ in range(OBSERVABLES)]
        self.pubs: dict[str, tuple[Any, ...]] = {}
        self.estimators: dict[str, Any] = {}
        self.transpile_seconds: dict[str, float] = {}
        for variant in VARIANTS:
            simulator = AerSimulator(method=variant.method)
            manager = generate_preset_pass_manager(optimization_level=1, backend=simulator)
            manager.run(circuit)  # the first run pays lazy imports
            started = time.perf_counter()
            isa = manager.run(circuit)
            self.transpile_seconds[variant.key] = time.perf_counter() - started
            observables = [[SparsePauliOp(p).apply_layout(isa.layout)] for p in self.paulis]
            self.pubs[variant.key] = (isa, observables, self.values)
            self.estimators[variant.key] = EstimatorV2.from_backend(simulator)

    def body(self, experiment_id: str, variant: Variant) -> dict[str, Any]:
        return {
            "experiment_id": experiment_id,
            "device_id": "aer_simulator",
            "shots": SHOTS,
            "run_type": variant.run_type,
            "circuits_qasm": [self.qasm],
            "parameters": [self.values.tolist()],
            "observables": [[[[p], [1.0]] for p in self.paulis]],
        }

    def run_direct(self, variant: Variant) -> tuple[float, np.ndarray]:
        estimator, pub = self.estimators[variant.key], self.pubs[variant.key]
        started = time.perf_counter()
        result = estimator.run([pub], precision=variant.precision).result()
        seconds = time.perf_counter() - started
        return seconds, np.asarray(result[0].data.evs)

    def title(self) -> str:
        return (
            f"(b) Sweep: efficient_su2({QUBITS}) ({self.num_parameters} parameters) x {SETS} sets "
            f"x {OBSERVABLES} observables; Run (shots {SHOTS}, precision 1/{math.isqrt(SHOTS)}) "
            "and StatevectorRun (exact)"
        )

    def warm_up(self, client: httpx.Client, experiment_id: str) -> None:
        """Worker imports, pass managers, the first parse."""
        for case in self.cases(experiment_id):
            submit_and_read(client, case.body)
            case.direct()

    def cases(self, experiment_id: str) -> list[Case]:
        return [
            Case(
                self.body(experiment_id, v), partial(self.run_direct, v), partial(check, variant=v)
            )
            for v in VARIANTS
        ]


def check(job: dict[str, Any], direct: np.ndarray, variant: Variant) -> list[str]:
    if job.get("status") != "Done":
        return [f"job {job.get('id')}: status {job.get('status')}: {job.get('error')}"]
    results = job["quantum_results"]
    shape = [len(results), len(results[0]), len(results[0][0])]
    if shape != [1, OBSERVABLES, SETS]:
        return [f"{variant.run_type}: results shape {shape}, expected [1][{OBSERVABLES}][{SETS}]"]
    difference = float(np.abs(np.asarray(results[0]) - direct).max())
    # Run: both sides add N(0, precision) to the exact value, so the difference has sd
    # sqrt(2) * precision. StatevectorRun: both are exact.
    bound = 6 * math.sqrt(2) * variant.precision if variant.precision else 1e-9
    if difference > bound:
        return [f"{variant.run_type}: values differ from direct Aer by up to {difference:.3g}"]
    return []


def run(
    quick: bool = False, repeats: int | None = None, poll_interval: str | None = None
) -> Summary:
    repeats = repeats or (2 if quick else 3)
    sweep = Sweep()
    cases, problems = interleaved(sweep, "bench-sweep", repeats, poll_interval)
    rows = [report(v, case.measured, sweep) for v, case in zip(VARIANTS, cases, strict=True)]
    if not problems:
        print(f"    results nest [1][{OBSERVABLES}][{SETS}]; values agree with direct Aer")
    shots_row, exact_row = rows
    return summary(
        "sweep",
        (
            f"1 job of {SETS} sets x {OBSERVABLES} observables: "
            f"Run {quantity(shots_row.value, 's')} vs EstimatorV2 "
            f"{quantity(shots_row.baseline, 's')} ({shots_row.figure:.2f}x); "
            f"StatevectorRun {quantity(exact_row.value, 's')} vs exact EstimatorV2 "
            f"{quantity(exact_row.baseline, 's')} ({exact_row.figure:.2f}x)"
        ),
        {f"{row.key}_{name}": value for row in rows for name, value in numbers(row).items()},
        problems,
        rows,
    )


def report(variant: Variant, measured: Measured, sweep: Sweep) -> Row:
    q, d = median(measured.qorch), median(measured.direct)
    precision = f"1/{round(1 / variant.precision)}" if variant.precision else "0 (exact)"
    print(
        f"    {variant.run_type}, precision {precision}, values agree {variant.agreement}; medians:"
    )
    print(f"      {runs_line('direct EstimatorV2 run    ', measured.direct)}")
    print(f"      {runs_line('qorch submit->Done+results', measured.qorch)}")
    transpile = quantity(sweep.transpile_seconds[variant.key], "s")
    print(f"      direct transpile (not in the baseline): {transpile}")
    print("      where qorch's time goes (event timestamps and job metadata):")
    measured.print_phases("        ")
    return Row(variant.key, q, "s", d)


def numbers(row: Row) -> dict[str, float]:
    baseline = row.baseline or math.nan
    return {"qorch_median_s": row.value, "direct_median_s": baseline, "ratio": row.figure}


if __name__ == "__main__":
    bench_main(__doc__, run, "2 repeats instead of 3", poll=True, repeats=REPEATS)
