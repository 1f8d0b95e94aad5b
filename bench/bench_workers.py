"""(d) Separate workers: 500 Bell jobs run by 3 `qorch worker` processes behind one
`qorch serve --no-worker`, on one shared store; then again with one worker SIGKILLed mid-run.

Every job must end Done with exactly one `Executed` event, counted from the event store itself
(`qorch.bootstrap.open_application`, whole notification log) after every process has stopped.
SQLite (shared data directory) always; PostgreSQL too when `--database-url` (or
QORCH_BENCH_DATABASE_URL) names a server: a scratch database is created there, initialised with
`qorch db init`, and dropped at the end. Jobs are submitted over HTTP by 8 concurrent clients.

`--scaling` measures something else: throughput of 1 vs 3 `qorch worker` processes
(QORCH_WORKER_CONCURRENCY=1 each) on PostgreSQL for CPU-bound jobs: 24 statevector estimation
jobs (EfficientSU2(16, reps=2), a few parameter sets, one observable), all submitted at once to
one `qorch serve --no-worker`, timed from the first submit until no job is Queued or Running.

    .venv/bin/python bench/bench_workers.py [--quick] [--jobs N] [--database-url URL]
    .venv/bin/python bench/bench_workers.py --scaling [--quick] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import CLIENTS, statuses, submit_all, wait_until_settled  # noqa: E402
from common import (  # noqa: E402
    ROOT,
    RUN_PATH,
    SINGLE_USER_ENV,
    Server,
    Summary,
    machine_note,
    stop_group,
    summary,
)
from stats import median  # noqa: E402

WORKERS = 3
ENV = {"QORCH_POLL_INTERVAL": "0.05", "QORCH_LEASE_SECONDS": "5", "QORCH_LOG_LEVEL": "WARNING"}


def start_worker(data_dir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "qorch", "worker", "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **SINGLE_USER_ENV, **env},
        cwd=ROOT,
        start_new_session=True,  # its own group: SIGKILL takes its executor processes too
    )
    return process


def init_database(data_dir: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "qorch", "db", "init", "--data-dir", str(data_dir)],
        check=True,
        env={**os.environ, **SINGLE_USER_ENV, **env},
        cwd=ROOT,
        capture_output=True,
    )


def executed_per_job(
    data_dir: Path, database_url: str, claimants: dict[str, set[str]] | None = None
) -> tuple[Counter[str], Counter[str], int]:
    """(Executed events per job id, Claimed events per job id, events in the log).

    With `claimants`, also collects the worker ids that recorded Claimed, per job id.
    """
    from qorch.bootstrap import open_application
    from qorch.settings import Settings

    app = open_application(Settings(data_dir=data_dir, database_url=database_url))
    executed: Counter[str] = Counter()
    claimed: Counter[str] = Counter()
    total = 0
    try:
        position = 0
        while True:
            page = app.recorder.select_notifications(
                start=position, limit=5000, inclusive_of_start=False
            )
            if not page:
                break
            for notification in page:
                total += 1
                topic = notification.topic
                if topic.endswith("Job.Executed"):
                    executed[str(notification.originator_id)] += 1
                elif topic.endswith("Job.Claimed"):
                    claimed[str(notification.originator_id)] += 1
                    if claimants is not None:
                        with contextlib.suppress(ValueError, UnicodeDecodeError):
                            worker = json.loads(notification.state).get("worker_id")
                            if worker:
                                claimants.setdefault(str(notification.originator_id), set()).add(
                                    str(worker)
                                )
            position = page[-1].id
    finally:
        app.close()
    return executed, claimed, total


@dataclass
class Outcome:
    label: str
    jobs: int
    seconds: float
    not_done: int
    not_once: int
    reclaimed: int
    events: int
    problems: list[str]

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds


async def drive(server: Server, jobs: int, kill: subprocess.Popen[str] | None) -> tuple:
    experiment_id = server.create_experiment("bench-workers")
    killer: asyncio.Task[None] | None = None
    if kill is not None:

        async def kill_mid_run() -> None:
            # SIGKILL the worker (and its executor processes) once about a third is Done.
            async with server.async_client() as client:
                while True:
                    answer = await client.get(
                        "/jobs",
                        params={"experiment_id": experiment_id, "status": "Done", "limit": 500},
                    )
                    if len(answer.json()["jobs"]) >= max(jobs // 3, 1):
                        os.killpg(kill.pid, signal.SIGKILL)
                        kill.wait()
                        return
                    await asyncio.sleep(0.05)

        killer = asyncio.create_task(kill_mid_run())
    submissions = await submit_all(server, experiment_id, jobs // CLIENTS)
    settled = await wait_until_settled(server, experiment_id, timeout=600)
    if killer is not None:
        killer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await killer
    return submissions, settled, await statuses(server, experiment_id)


@contextlib.contextmanager
def cluster(
    data_dir: Path, env: dict[str, str], workers: int, shared_database: bool
) -> Iterator[tuple[Server, list[subprocess.Popen[str]]]]:
    """An API process without a worker plus `workers` worker processes on `data_dir`, all
    stopped when the block ends (the data directory stays, to be read)."""
    data_dir.mkdir()
    if shared_database:
        init_database(data_dir, env)
    server = Server(extra_args=["--no-worker"], env=env, data_dir=data_dir)
    processes: list[subprocess.Popen[str]] = []
    try:
        server.start()
        processes = [start_worker(data_dir, env) for _ in range(workers)]
        time.sleep(2.0)  # let the workers import qiskit before the clock starts
        yield server, processes
    finally:
        for process in processes:
            stop_group(process)
        server.stop()


def one_run(label: str, jobs: int, database_url: str, kill_one: bool) -> Outcome:
    env = dict(ENV)
    if database_url:
        env["QORCH_DATABASE_URL"] = database_url
    with tempfile.TemporaryDirectory(prefix="qorch-bench-workers-") as tmp:
        data_dir = Path(tmp) / "data"
        with cluster(data_dir, env, WORKERS, bool(database_url)) as (server, workers):
            submissions, settled, found = asyncio.run(
                drive(server, jobs, workers[0] if kill_one else None)
            )
        killed = kill_one and workers[0].returncode == -signal.SIGKILL
        executed, claimed, events = executed_per_job(data_dir, database_url)
    ids = submissions.job_ids
    not_done = [i for i in ids if found.get(i) != "Done"]
    not_once = [i for i in ids if executed[i] != 1]
    problems = [f"submit failed: {f}" for f in submissions.failures]
    problems += [f"job {i} is {found.get(i)}, not Done" for i in not_done]
    problems += [f"job {i} has {executed[i]} Executed events" for i in not_once]
    if len(ids) != jobs:
        problems.append(f"{jobs - len(ids)} submits lost")
    if kill_one and not killed:
        problems.append("the worker was not SIGKILLed mid-run (finished too fast?)")
    reclaimed = sum(1 for i in ids if claimed[i] > 1)
    return Outcome(
        label,
        len(ids),
        settled - submissions.first_sent,
        len(not_done),
        len(not_once),
        reclaimed,
        events,
        problems,
    )


@contextlib.contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A fresh database on the server that `url` names; dropped afterwards."""
    import psycopg

    name = f"qorch_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(quick: bool = False, jobs: int | None = None, database_url: str | None = None) -> Summary:
    jobs = jobs or (96 if quick else 504)
    jobs -= jobs % CLIENTS
    database_url = database_url or os.environ.get("QORCH_BENCH_DATABASE_URL", "")
    print(
        f"(d) Workers: {jobs} Bell jobs (100 shots), {CLIENTS} clients, 1 `serve --no-worker`"
        f" + {WORKERS} `qorch worker` (lease 5 s)"
    )
    print(f"    {machine_note()}")
    outcomes: list[Outcome] = []
    stores = [("SQLite", "")]
    if database_url:
        stores.append(("PostgreSQL", database_url))
    for store, url in stores:
        for label, kill_one in ((f"{WORKERS} workers", False), (f"1 of {WORKERS} SIGKILLed", True)):
            with contextlib.ExitStack() as stack:
                scratch = stack.enter_context(scratch_database(url)) if url else ""
                outcomes.append(one_run(f"{store}, {label}", jobs, scratch, kill_one))
    if not database_url:
        print("    PostgreSQL: skipped (pass --database-url or set QORCH_BENCH_DATABASE_URL)")
    for o in outcomes:
        print(
            f"    {o.label:<28} {o.jobs} jobs in {o.seconds:6.2f} s = {o.rate:6.1f} jobs/s; "
            f"not Done {o.not_done}, not executed exactly once {o.not_once}, "
            f"re-claimed after a lease expired {o.reclaimed}, {o.events} events"
        )
    problems = [f"{o.label}: {p}" for o in outcomes for p in o.problems]
    return summary(
        "workers",
        "; ".join(
            f"{o.label}: {o.rate:.1f} jobs/s, not Done {o.not_done}, not once {o.not_once}"
            for o in outcomes
        ),
        {f"{o.label} jobs_per_s": o.rate for o in outcomes},
        problems,
    )


# --- --scaling: 1 vs 3 worker processes on CPU-bound jobs, PostgreSQL ---------------------------

SCALING_WORKERS = (1, 3)
SCALING_QUBITS = 16
SCALING_REPS = 2
SCALING_SETS = 5  # parameter sets per job: about 1 s of Aer per job on this 2-core machine
SCALING_SHOTS = 4096
SCALING_DEVICE = "aer_simulator_statevector"
SCALING_SEED = 20240602


class ScalingWorkload:
    """One job's request (OpenQASM 3 of EfficientSU2, parameter sets, Z...Z) and a direct timer."""

    def __init__(self) -> None:
        import numpy as np
        from qiskit import qasm3
        from qiskit.circuit.library import efficient_su2

        self.qasm = qasm3.dumps(efficient_su2(SCALING_QUBITS, reps=SCALING_REPS))
        circuit = qasm3.loads(self.qasm)
        self.circuit = circuit
        self.num_parameters = circuit.num_parameters
        rng = np.random.default_rng(SCALING_SEED)
        self.values = rng.uniform(0, 2 * np.pi, size=(SCALING_SETS, circuit.num_parameters))
        self.pauli = "Z" * SCALING_QUBITS

    def body(self, experiment_id: str) -> dict[str, Any]:
        return {
            "experiment_id": experiment_id,
            "device_id": SCALING_DEVICE,
            "shots": SCALING_SHOTS,
            "circuits_qasm": [self.qasm],
            "parameters": [self.values.tolist()],
            "observables": [[[[self.pauli], [1.0]]]],
        }

    def direct_seconds(self, repeats: int, **options: Any) -> float:
        """Median seconds of Aer's EstimatorV2 on one job's PUB here (transpiled once)."""
        from qiskit.quantum_info import SparsePauliOp
        from qiskit.transpiler import generate_preset_pass_manager
        from qiskit_aer import AerSimulator
        from qiskit_aer.primitives import EstimatorV2

        simulator = AerSimulator(method="statevector", **options)
        manager = generate_preset_pass_manager(optimization_level=1, backend=simulator)
        isa = manager.run(self.circuit)
        observable = SparsePauliOp(self.pauli).apply_layout(isa.layout)
        estimator = EstimatorV2.from_backend(simulator)
        pub = (isa, [[observable]], self.values)
        precision = 1 / SCALING_SHOTS**0.5
        estimator.run([pub], precision=precision).result()  # warm-up
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            estimator.run([pub], precision=precision).result()
            times.append(time.perf_counter() - started)
        return median(times)


@dataclass
class ScalingOutcome:
    workers: int
    jobs: int
    seconds: float
    not_done: int
    not_once: int
    reclaimed: int
    claimed_by: int
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds


async def scaling_drive(
    server: Server, workload: ScalingWorkload, jobs: int, workers: int
) -> tuple[list[str], list[str], float, float, dict[str, str], dict[str, Any]]:
    async with server.async_client(timeout=600) as client:
        # Warm-up: one job per worker at once, so each worker pays its imports, the QASM 3 parser
        # and its pass manager before the clock starts (each holds one job at a time).
        warm_id = server.create_experiment("bench-scaling-warm-up")
        answers = await asyncio.gather(
            *(client.post(RUN_PATH, json=workload.body(warm_id)) for _ in range(workers))
        )
        for answer in answers:
            answer.raise_for_status()
        await asyncio.gather(
            *(client.get(f"/jobs/{a.json()['job']['id']}", params={"wait": 120}) for a in answers)
        )
        experiment_id = server.create_experiment("bench-scaling")
        body = workload.body(experiment_id)
        first_sent = time.perf_counter()
        answers = await asyncio.gather(
            *(client.post(RUN_PATH, json=body) for _ in range(jobs)), return_exceptions=True
        )
        job_ids: list[str] = []
        failures: list[str] = []
        for answer in answers:
            if isinstance(answer, BaseException):
                failures.append(f"{type(answer).__name__}: {answer}")
            elif answer.is_success:
                job_ids.append(answer.json()["job"]["id"])
            else:
                failures.append(f"{answer.status_code}: {answer.text[:200]}")
        settled = await wait_until_settled(server, experiment_id, timeout=600)
        found = await statuses(server, experiment_id)
        sample: dict[str, Any] = {}
        if job_ids:
            sample = (await client.get(f"/jobs/{job_ids[-1]}")).json()
    return job_ids, failures, first_sent, settled, found, sample


def scaling_run(
    workload: ScalingWorkload, workers: int, jobs: int, database_url: str
) -> ScalingOutcome:
    env = {**ENV, "QORCH_DATABASE_URL": database_url, "QORCH_WORKER_CONCURRENCY": "1"}
    with tempfile.TemporaryDirectory(prefix="qorch-bench-scaling-") as tmp:
        data_dir = Path(tmp) / "data"
        with cluster(data_dir, env, workers, True) as (server, _):
            job_ids, failures, first_sent, settled, found, sample = asyncio.run(
                scaling_drive(server, workload, jobs, workers)
            )
        claimants: dict[str, set[str]] = {}
        executed, claimed, _ = executed_per_job(data_dir, database_url, claimants)
    not_done = [i for i in job_ids if found.get(i) != "Done"]
    not_once = [i for i in job_ids if executed[i] != 1]
    problems = [f"submit failed: {f}" for f in failures]
    problems += [f"job {i} is {found.get(i)}, not Done" for i in not_done]
    problems += [f"job {i} has {executed[i]} Executed events" for i in not_once]
    values = sample.get("quantum_results")  # [circuit][observable][parameter set]
    if not (
        isinstance(values, list)
        and len(values) == 1
        and len(values[0]) == 1
        and len(values[0][0]) == SCALING_SETS
    ):
        problems.append(f"results do not nest [1][1][{SCALING_SETS}]: {str(values)[:200]}")
    by = set().union(*(claimants.get(i, set()) for i in job_ids)) if job_ids else set()
    return ScalingOutcome(
        workers=workers,
        jobs=len(job_ids),
        seconds=settled - first_sent,
        not_done=len(not_done),
        not_once=len(not_once),
        reclaimed=sum(1 for i in job_ids if claimed[i] > 1),
        claimed_by=len(by),
        problems=problems,
    )


def run_scaling(
    quick: bool = False, jobs: int | None = None, database_url: str | None = None
) -> Summary:
    jobs = jobs or (12 if quick else 24)
    rounds = 1 if quick else 2
    database_url = database_url or os.environ.get("QORCH_BENCH_DATABASE_URL", "")
    workload = ScalingWorkload()
    print(
        f"(d2) Worker scaling on PostgreSQL: {jobs} jobs submitted at once to 1 `serve "
        f"--no-worker`, run by {' vs '.join(map(str, SCALING_WORKERS))} `qorch worker` processes"
        " (QORCH_WORKER_CONCURRENCY=1 each)"
    )
    print(
        f"    each job: a Run of EfficientSU2({SCALING_QUBITS}, reps={SCALING_REPS})"
        f" ({workload.num_parameters} parameters) x {SCALING_SETS} parameter sets x 1 observable"
        f" (Z^{SCALING_QUBITS}) on {SCALING_DEVICE}, {SCALING_SHOTS} shots;"
        f" {rounds} interleaved round(s)"
    )
    print(f"    {machine_note()}")
    if not database_url:
        print("    PostgreSQL: skipped (pass --database-url or set QORCH_BENCH_DATABASE_URL)")
        return Summary(name="scaling", headline="skipped (no PostgreSQL URL)")
    direct = workload.direct_seconds(3)
    direct_1 = workload.direct_seconds(3, max_parallel_threads=1)
    print(
        f"    direct Aer EstimatorV2 on one job's PUB: {direct:.2f} s (default threads),"
        f" {direct_1:.2f} s (max_parallel_threads=1) = {direct_1 / direct:.2f}x"
    )
    outcomes: list[ScalingOutcome] = []
    for _ in range(rounds):
        for workers in SCALING_WORKERS:
            with scratch_database(database_url) as scratch:
                outcome = scaling_run(workload, workers, jobs, scratch)
            outcomes.append(outcome)
            print(
                f"    {workers} worker{'s' if workers > 1 else ' '}: {outcome.jobs} jobs in"
                f" {outcome.seconds:6.2f} s = {outcome.rate:5.2f} jobs/s"
                f" ({outcome.seconds / max(outcome.jobs, 1):.2f} s/job); not Done"
                f" {outcome.not_done}, not executed exactly once {outcome.not_once}, re-claimed"
                f" {outcome.reclaimed}, claimed by {outcome.claimed_by} worker(s)"
            )
    rates = {w: median([o.rate for o in outcomes if o.workers == w]) for w in SCALING_WORKERS}
    low, high = SCALING_WORKERS
    speedup = rates[high] / rates[low]
    cpus = os.cpu_count() or 1
    print(
        f"    median jobs/s: {low} worker {rates[low]:.2f}, {high} workers {rates[high]:.2f};"
        f" {high} vs {low}: {speedup:.2f}x"
    )
    if direct_1 < direct:
        threads = (
            f"Aer's OpenMP threads do not help one job here: its PUB ran {direct / direct_1:.2f}x"
            " faster with max_parallel_threads=1 (busy machine), so one worker leaves CPU time"
            " that more processes can use"
        )
    else:
        threads = (
            f"one worker already uses more than one core through Aer's OpenMP threads"
            f" ({direct_1 / direct:.2f}x from threads), which keeps the ratio lower"
        )
    print(
        f"    note: this machine has {cpus} CPU(s), so {high} CPU-bound worker processes can be"
        f" at most ~{min(cpus, high)}x one (expect <= {min(cpus, high)}x); {threads}."
    )
    problems = [f"{o.workers} worker(s): {p}" for o in outcomes for p in o.problems]
    return summary(
        "scaling",
        (
            f"PostgreSQL, {jobs} CPU-bound jobs: {low} worker {rates[low]:.2f} jobs/s, {high}"
            f" workers {rates[high]:.2f} jobs/s = {speedup:.2f}x ({cpus} CPUs)"
        ),
        {
            f"{low}_worker_jobs_per_s": rates[low],
            f"{high}_workers_jobs_per_s": rates[high],
            "speedup": speedup,
            "direct_job_s": direct,
        },
        problems,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs (96/504; scaling 12/24)")
    parser.add_argument("--jobs", type=int, help="jobs per run (a multiple of 8)")
    parser.add_argument("--database-url", help="a PostgreSQL server to run on as well")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="1 vs 3 worker processes on CPU-bound statevector jobs, PostgreSQL only",
    )
    args = parser.parse_args(argv)
    if args.scaling:
        return 1 if run_scaling(args.quick, args.jobs, args.database_url).problems else 0
    return 1 if run(args.quick, args.jobs, args.database_url).problems else 0


if __name__ == "__main__":
    sys.exit(main())
