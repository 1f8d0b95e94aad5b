"""(h) Status reads: GET /jobs/{id} with 100 000 jobs stored, while a 24-qubit StatevectorRun
runs in the same server, vs the same reads with no simulation running.

The store is built by `big_store.build` (100 000 Done Bell jobs of three users, `--quick`:
20 000; the views at the log head). One `qorch serve` (its own worker) runs on it with
QORCH_STATEVECTOR_MAX_QUBITS=24 (the default cap of StatevectorRun on dense simulators, said
again so the bench means the same if it changes; their own cap, QORCH_MAX_DENSE_QUBITS, is
26). A Bell job is run to Done first (the worker
process has imported its SDKs). Then one client reads, one request at a time:

- baseline: READS reads with no simulation running: random stored jobs of one user, every
  tenth read the bench's own latest job (the Bell job);
- measured: READS other random stored jobs while a StatevectorRun of a 24-qubit circuit (layers
  of `ry` + a `cx` ladder, bench_load.heavy_qasm) with 3 one-term Pauli observables runs on
  `aer_simulator`, every tenth read that running job. The reads start once the job is Running;
  its status must still be Running after the last read, and the job must end Done with
  3 expectation values in [-1, 1].

Printed: p50/p99 of both, the ratio, and the p99 against the target <= 10 ms.

    .venv/bin/python bench/bench_status.py [--quick] [--jobs N] [--reads N] [--layers N]
"""

from __future__ import annotations

import math
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import big_store  # noqa: E402
from bench_load import heavy_qasm  # noqa: E402
from common import RUN_PATH, Server, Summary, bell_body, bench_main, summary, title, until_final  # noqa: E402
from rows import Row  # noqa: E402
from stats import ms, p50_p99, ratio  # noqa: E402

QUBITS = 24
TARGET = 0.010
OBSERVABLES = ["Z" * QUBITS, "X" * QUBITS, "I" * (QUBITS - 2) + "ZZ"]


def heavy_body(experiment_id: str, layers: int) -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "device_id": "aer_simulator",
        "run_type": "StatevectorRun",
        "circuits_qasm": [heavy_qasm(QUBITS, layers)],
        "observables": [[[label], [1.0]] for label in OBSERVABLES],
    }


def read_jobs(
    client: httpx.Client, stored: list[str], own: str, problems: list[str]
) -> tuple[list[float], list[str]]:
    """Latencies of reading `stored` one by one, `own` every tenth read; `own`'s statuses."""
    latencies: list[float] = []
    seen: list[str] = []
    for number, job_id in enumerate(stored):
        job_id = own if number % 10 == 0 else job_id
        sent = time.perf_counter()
        answer = client.get(f"/jobs/{job_id}")
        latencies.append(time.perf_counter() - sent)
        job = answer.json()
        if answer.status_code != 200 or job.get("id") != job_id:
            problems.append(f"GET /jobs/{job_id} answered {answer.status_code}")
        elif job_id == own:
            seen.append(job["status"])
        elif job["status"] != "Done":
            problems.append(f"stored job {job_id} is {job['status']}")
    return latencies, seen


def measure(server: Server, stored: list[str], count: int, layers: int) -> dict[str, Any]:
    problems: list[str] = []
    experiment_id = server.create_experiment("bench-status")
    sample = random.Random(13).sample(stored, 2 * count + 20)
    with server.client() as client:
        answer = client.post(RUN_PATH, json=bell_body(experiment_id, 1024))
        answer.raise_for_status()
        bell = until_final(client, answer.json()["job"]["id"])
        if bell.get("status") != "Done":
            problems.append(f"warm-up Bell job ended {bell.get('status')}: {bell.get('error')}")
        read_jobs(client, sample[:20], bell["id"], problems)  # connection and caches warm
        idle, _ = read_jobs(client, sample[20 : 20 + count], bell["id"], problems)
        answer = client.post(RUN_PATH, json=heavy_body(experiment_id, layers))
        if answer.status_code != 201:
            raise RuntimeError(f"heavy submit answered {answer.status_code}: {answer.text}")
        heavy_id = answer.json()["job"]["id"]
        while client.get(f"/jobs/{heavy_id}").json()["status"] == "Queued":
            time.sleep(0.02)
        started = time.perf_counter()
        busy, seen = read_jobs(client, sample[20 + count :], heavy_id, problems)
        window = time.perf_counter() - started
        seen.append(client.get(f"/jobs/{heavy_id}").json()["status"])
        heavy = until_final(client, heavy_id)
    if seen[0] != "Running" or seen[-1] != "Running":
        problems.append(
            f"the {QUBITS}-qubit job was {seen[0]} at the start and {seen[-1]} at the end of "
            f"the reads, not Running: give it more layers (--layers)"
        )
    values = heavy.get("quantum_results")
    flat = [v for row in values for v in row] if isinstance(values, list) else []
    if heavy.get("status") != "Done":
        problems.append(f"the {QUBITS}-qubit job ended {heavy.get('status')}: {heavy.get('error')}")
    elif len(flat) != len(OBSERVABLES) or not all(math.isfinite(v) and abs(v) <= 1 for v in flat):
        problems.append(f"the {QUBITS}-qubit job's results: {str(values)[:200]}")
    return {"idle": idle, "busy": busy, "window": window, "heavy": heavy, "problems": problems}


def run(
    quick: bool = False,
    jobs: int | None = None,
    reads: int | None = None,
    layers: int | None = None,
) -> Summary:
    jobs = jobs or (20_000 if quick else 100_000)
    layers = layers or 4
    count = reads or (200 if quick else 500)
    title(
        f"(h) Status reads: {count} GET /jobs/{{id}} with ~{jobs:,} jobs stored, idle vs while "
        f"a {QUBITS}-qubit StatevectorRun ({layers} layers) runs"
    )
    with tempfile.TemporaryDirectory(prefix="qorch-bench-status-") as tmp:
        store = big_store.build(Path(tmp) / "data", jobs * big_store.EVENTS_PER_JOB)
        print(f"    {store.describe()}")
        server = Server(data_dir=store.data_dir, env={"QORCH_STATEVECTOR_MAX_QUBITS": str(QUBITS)})
        server.key = store.keys[0]  # a store with users prints no key
        with server:
            print(f"    server up in {server.startup_seconds:.2f} s")
            m = measure(server, store.jobs[0], count, layers)
    problems = store.problems + m["problems"]
    idle, busy, heavy = m["idle"], m["busy"], m["heavy"]
    (i50, i99), (b50, b99) = p50_p99(idle), p50_p99(busy)
    met = "met" if b99 <= TARGET else "NOT met"
    print(f"    idle  p50 {ms(i50):>10}  p99 {ms(i99):>10}  (baseline, {len(idle)} reads)")
    print(
        f"    busy  p50 {ms(b50):>10}  p99 {ms(b99):>10}  ({len(busy)} reads in "
        f"{m['window']:.1f} s while the {QUBITS}-qubit job ran; it ended {heavy.get('status')}"
        f", values {heavy.get('quantum_results')})"
    )
    print(
        f"    busy/idle p50 {ratio(b50, i50)}  p99 {ratio(b99, i99)};  "
        f"busy p99 {ms(b99)} (target <= {ms(TARGET)}: {met})"
    )
    return summary(
        "status",
        (
            f"GET /jobs/{{id}} with {sum(map(len, store.jobs)):,} jobs stored, while a "
            f"{QUBITS}-qubit StatevectorRun runs: p99 {ms(b99)} (target <= {ms(TARGET)}: "
            f"{met}), p50 {ms(b50)}; idle p99 {ms(i99)}, p50 {ms(i50)} (baseline)"
        ),
        {"busy_p50_s": b50, "busy_p99_s": b99, "idle_p50_s": i50, "idle_p99_s": i99},
        problems,
        [Row("status", b99, "s", baseline=i99)],
    )


if __name__ == "__main__":
    bench_main(
        __doc__,
        run,
        "20 000 jobs and 200 reads instead of 100 000 and 500",
        jobs="jobs stored",
        reads="reads of each kind",
        layers="layers of the job",
    )
