"""(b) Parameter sweep: EfficientSU2(10) x 1000 parameter sets x 10 observables as ONE job.

The circuit goes over HTTP as OpenQASM 3 (`qiskit.qasm3.dumps`), with 1000 parameter sets and 10
random 10-qubit Pauli strings (coefficient 1.0, fixed seed), shots 4096 (qorch's precision is
1/sqrt(shots) = 1/64). The time runs from sending the submit to the Done document, results
included, being read by the client (GET /jobs/{id}?wait=...). The baseline is Aer's EstimatorV2
called in this process on the same PUB: the same QASM text loaded with `qasm3.loads`, transpiled
once like qorch does (preset pass manager, optimization level 1, AerSimulator), observables of
shape (10, 1) and parameter values of shape (1000, k), precision 1/64. Runs are interleaved;
medians and the ratio qorch/direct are reported (target: at most 1.3x). The results must nest
[1][10][1000] and agree with the direct values within the shot noise.

Parameters bind in the parsed circuit's `parameters` order. After a QASM 3 round trip the
ParameterVector elements θ[i] become plain parameters `_θ_i_`, which Qiskit sorts by name
(`_θ_0_, _θ_10_, _θ_11_, ...`), so the values are generated in the order of the loaded circuit.

    .venv/bin/python bench/bench_sweep.py [--quick] [--repeats R] [--poll-interval S]
"""

from __future__ import annotations

import math
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    RUN_PATH,
    Server,
    Summary,
    bench_main,
    machine_note,
    median,
    poll_label,
    ratio,
    summary,
)

QUBITS = 10
SETS = 1000
OBSERVABLES = 10
SHOTS = 4096
PRECISION = 1 / math.sqrt(SHOTS)
SEED = 20240601


class Sweep:
    """The workload, built once: QASM text, parameter values, observables, the direct PUB."""

    def __init__(self, sets: int) -> None:
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
        self.values = rng.uniform(0, 2 * np.pi, size=(sets, self.num_parameters))
        self.paulis = ["".join(rng.choice(list("IXYZ"), size=QUBITS)) for _ in range(OBSERVABLES)]
        pass_manager = generate_preset_pass_manager(optimization_level=1, backend=AerSimulator())
        pass_manager.run(circuit)  # the first run pays lazy imports
        started = time.perf_counter()
        isa = pass_manager.run(circuit)
        self.transpile_seconds = time.perf_counter() - started
        observables = [[SparsePauliOp(p).apply_layout(isa.layout)] for p in self.paulis]
        self.pub = (isa, observables, self.values)
        self.estimator = EstimatorV2()

    def body(self, experiment_id: str) -> dict[str, Any]:
        return {
            "experiment_id": experiment_id,
            "device_id": "aer_simulator",
            "shots": SHOTS,
            "circuits_qasm": [self.qasm],
            "parameters": [self.values.tolist()],
            "observables": [[[[p], [1.0]] for p in self.paulis]],
        }

    def run_direct(self) -> tuple[float, np.ndarray]:
        started = time.perf_counter()
        result = self.estimator.run([self.pub], precision=PRECISION).result()
        seconds = time.perf_counter() - started
        return seconds, np.asarray(result[0].data.evs)


def run_qorch(
    server: Server, body: dict[str, Any]
) -> tuple[float, dict[str, Any], dict[str, float]]:
    """Seconds from submit to results read, the job, and where the time went."""
    with server.client(timeout=300) as client:
        started = time.perf_counter()
        sent_at = time.time()
        answer = client.post(RUN_PATH, json=body)
        answered = time.perf_counter()
        answer.raise_for_status()
        job_id = answer.json()["job"]["id"]
        done = client.get(f"/jobs/{job_id}", params={"wait": 120})
        job: dict[str, Any] = done.json()
        seconds = time.perf_counter() - started
        read_at = time.time()
    phases = {"submit answered": answered - started}
    if job.get("status") == "Done":
        when = {
            e["type"]: datetime.fromisoformat(e["timestamp"]).timestamp() for e in job["events"]
        }
        metadata = job["info"]["metadata"]
        phases.update(
            {
                "send->Submitted": when["Submitted"] - sent_at,
                "Submitted->Claimed": when["Claimed"] - when["Submitted"],
                "Claimed->Executed": when["Executed"] - when["Claimed"],
                "  Aer execution": float(metadata["execution_seconds"]),
                "  transpile": float(metadata["transpile_seconds"]),
                "Executed->client": read_at - when["Executed"],
            }
        )
    return seconds, job, phases


def check(job: dict[str, Any], direct: np.ndarray, sets: int) -> list[str]:
    problems: list[str] = []
    if job.get("status") != "Done":
        return [f"job {job.get('id')}: status {job.get('status')}: {job.get('error')}"]
    results = job["quantum_results"]
    shape = [len(results), len(results[0]), len(results[0][0])]
    if shape != [1, OBSERVABLES, sets]:
        problems.append(f"results shape {shape}, expected [1][{OBSERVABLES}][{sets}]")
        return problems
    # Both sides add N(0, 1/64) to the exact value: the difference has sd sqrt(2)/64.
    difference = np.abs(np.asarray(results[0]) - direct)
    bound = 6 * math.sqrt(2) * PRECISION
    if float(difference.max()) > bound:
        problems.append(f"values differ from direct Aer by up to {difference.max():.3f}")
    return problems


def run(
    quick: bool = False, repeats: int | None = None, poll_interval: str | None = None
) -> Summary:
    repeats = repeats or (3 if quick else 5)
    sets = SETS
    sweep = Sweep(sets)
    print(
        f"(b) Sweep: efficient_su2({QUBITS}) ({sweep.num_parameters} parameters) x {sets} sets "
        f"x {OBSERVABLES} observables, shots {SHOTS} (precision 1/{int(1 / PRECISION)}), "
        f"{repeats} interleaved repeats"
    )
    print(f"    {machine_note()}")
    body = sweep.body("")
    qorch_times: list[float] = []
    direct_times: list[float] = []
    phases: dict[str, list[float]] = defaultdict(list)
    problems: list[str] = []
    with Server(poll_interval=poll_interval) as server:
        print(f"    server up in {server.startup_seconds:.2f} s ({poll_label(poll_interval)})")
        body["experiment_id"] = server.create_experiment("bench-sweep")
        run_qorch(server, body)  # warm-up: worker process imports, pass manager, first parse
        sweep.run_direct()
        for _ in range(repeats):
            seconds, job, job_phases = run_qorch(server, body)
            direct_seconds, direct = sweep.run_direct()
            problems += check(job, direct, sets)
            qorch_times.append(seconds)
            direct_times.append(direct_seconds)
            for phase, phase_seconds in job_phases.items():
                phases[phase].append(phase_seconds)
    q, d = median(qorch_times), median(direct_times)
    print(f"    direct EstimatorV2 run      median {q_s(d)}  runs {fmt(direct_times)}")
    print(f"    qorch submit->Done+results  median {q_s(q)}  runs {fmt(qorch_times)}")
    print(f"    direct transpile (not in the baseline): {q_s(sweep.transpile_seconds)}")
    print("    where qorch's time goes (medians; event timestamps and job metadata):")
    for phase, values in phases.items():
        print(f"      {phase:<19} {q_s(median(values))}")
    verdict = "within" if q <= 1.3 * d else "ABOVE"
    print(f"    ratio qorch/direct (medians) {ratio(q, d)}  ({verdict} the 1.3x target)")
    if not problems:
        print(f"    results shape [1][{OBSERVABLES}][{sets}] checked; values agree with direct Aer")
    return summary(
        "sweep",
        (
            f"1 job of {sets} sets x {OBSERVABLES} observables: qorch median {q_s(q)} vs "
            f"direct EstimatorV2 {q_s(d)} (ratio {ratio(q, d)}, target <= 1.30x)"
        ),
        {"qorch_median_s": q, "direct_median_s": d, "ratio": q / d},
        problems,
    )


def q_s(seconds: float) -> str:
    return f"{seconds:.3f} s"


def fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


main = bench_main(
    __doc__,
    run,
    "3 repeats instead of 5",
    {"--repeats": "interleaved repeats of each side"},
    poll=True,
)

if __name__ == "__main__":
    sys.exit(main())
