"""(e) Load: 16 concurrent clients submit 2000 Bell jobs over HTTP to one `qorch serve`; then
status-read latency on the idle server and while a 24-qubit statevector job runs in it.

Reported: submits lost (accepted but not listed, or not Done) and 5xx answers (both must be 0),
accepted/s, completed/s, submit latency p50/p99; then GET /jobs/{id} latency p50/p99 of one
finished Bell job, first on the idle server, then while a 24-qubit `Run` with observables on
`aer_simulator_statevector` (depth ~200, so several seconds of dense simulation) executes in the
same server's worker, and the ratio busy/idle of the two, measured in the same run.

    .venv/bin/python bench/bench_load.py [--quick] [--jobs N]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_throughput  # noqa: E402
from bench_throughput import statuses, submit_all, wait_until_settled, warm_up  # noqa: E402
from common import RUN_PATH, Server, Summary, bench_main, machine_note, summary  # noqa: E402
from stats import ms, percentile  # noqa: E402

CLIENTS = 16
HEAVY_QUBITS = 24
HEAVY_LAYERS = 4


def heavy_qasm(qubits: int = HEAVY_QUBITS, layers: int = HEAVY_LAYERS) -> str:
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{qubits}];"]
    for layer in range(layers):
        lines += [f"ry({0.1 * (layer + 1) + 0.01 * i}) q[{i}];" for i in range(qubits)]
        lines += [f"cx q[{i}],q[{i + 1}];" for i in range(qubits - 1)]
    return "\n".join(lines)


def heavy_body(experiment_id: str) -> dict:
    n = HEAVY_QUBITS
    paulis = ["Z" * n, "X" * n, "I" * (n - 2) + "ZZ"]
    return {
        "experiment_id": experiment_id,
        "device_id": "aer_simulator_statevector",
        "shots": 1024,
        "circuits_qasm": [heavy_qasm()],
        "observables": [[paulis, [1.0, 1.0, 1.0]]],
    }


async def read_latencies(
    client: httpx.AsyncClient, path: str, count: int, until: asyncio.Event | None = None
) -> list[float]:
    out: list[float] = []
    while len(out) < count and not (until is not None and until.is_set()):
        sent = time.perf_counter()
        answer = await client.get(path)
        answer.raise_for_status()
        out.append(time.perf_counter() - sent)
    return out


async def measure(server: Server, jobs: int) -> dict:
    await warm_up(server, server.create_experiment("bench-load-warm-up"))
    experiment_id = server.create_experiment("bench-load")
    submissions = await submit_all(server, experiment_id, jobs // CLIENTS)
    settled = await wait_until_settled(server, experiment_id, timeout=900)
    found = await statuses(server, experiment_id)
    probe = f"/jobs/{submissions.job_ids[0]}"
    async with server.async_client() as client:
        await read_latencies(client, probe, 20)  # warm
        idle = await read_latencies(client, probe, 300)
        answer = await client.post(RUN_PATH, json=heavy_body(experiment_id))
        answer.raise_for_status()
        heavy_id = answer.json()["job"]["id"]
        # wait until the worker holds it, then read while it runs
        while (await client.get(f"/jobs/{heavy_id}")).json()["status"] == "Queued":
            await asyncio.sleep(0.02)
        final = asyncio.Event()
        started = time.perf_counter()

        async def watch() -> None:
            async with server.async_client() as watcher:
                while True:
                    job = (await watcher.get(f"/jobs/{heavy_id}")).json()
                    if job["status"] not in ("Queued", "Running"):
                        final.set()
                        return
                    await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        busy = await read_latencies(client, probe, 100_000, until=final)
        await watcher
        heavy_seconds = time.perf_counter() - started
        heavy = (await client.get(f"/jobs/{heavy_id}", params={"wait": 60})).json()
    return {
        "submissions": submissions,
        "settled": settled,
        "found": found,
        "idle": idle,
        "busy": busy,
        "heavy": heavy,
        "heavy_seconds": heavy_seconds,
    }


def run(quick: bool = False, jobs: int | None = None) -> Summary:
    jobs = jobs or (400 if quick else 2000)
    jobs -= jobs % CLIENTS
    print(f"(e) Load: {jobs} Bell jobs (100 shots) from {CLIENTS} concurrent clients, one server;")
    print(f"    status reads idle vs. during a {HEAVY_QUBITS}-qubit statevector Run")
    print(f"    {machine_note()}")
    with Server() as server:
        print(f"    server up in {server.startup_seconds:.2f} s")
        bench_throughput.CLIENTS = CLIENTS  # submit_all's client count
        m = asyncio.run(measure(server, jobs))
    s = m["submissions"]
    five_xx = [f for f in s.failures if f[:1] == "5"]
    lost = [i for i in s.job_ids if i not in m["found"]] + [None] * (jobs - len(s.job_ids))
    not_done = [i for i in s.job_ids if m["found"].get(i) != "Done"]
    submit_seconds = s.last_answered - s.first_sent
    total_seconds = m["settled"] - s.first_sent
    idle, busy, heavy = m["idle"], m["busy"], m["heavy"]
    problems = [f"failed submit: {f}" for f in s.failures]
    problems += [f"job {i} lost" for i in lost] + [f"job {i} not Done" for i in not_done]
    values = heavy.get("quantum_results")  # [circuit][observable]: one 3-term observable
    if not (isinstance(values, list) and len(values) == 1 and len(values[0]) == 1):
        problems.append(f"heavy job results do not nest [1][1]: {str(values)[:200]}")
    if heavy.get("status") != "Done":
        problems.append(f"heavy job ended {heavy.get('status')}: {heavy.get('error')}")
    if len(busy) < 20:
        problems.append(f"only {len(busy)} reads while the heavy job ran")
    i50, i99, b50, b99 = (
        percentile(idle, 50),
        percentile(idle, 99),
        percentile(busy, 50),
        percentile(busy, 99),
    )
    print(
        f"    submits accepted {len(s.job_ids)}/{jobs}, lost {len(lost)}, 5xx {len(five_xx)},"
        f" other failures {len(s.failures) - len(five_xx)}, not Done {len(not_done)}"
    )
    print(f"    accepted   {len(s.job_ids) / submit_seconds:8.1f} jobs/s ({submit_seconds:.2f} s)")
    print(f"    completed  {jobs / total_seconds:8.1f} jobs/s ({total_seconds:.2f} s)")
    print(
        f"    submit latency       p50 {ms(percentile(s.latencies, 50))}"
        f"  p99 {ms(percentile(s.latencies, 99))}"
    )
    print(f"    status read, idle    p50 {ms(i50)}  p99 {ms(i99)}  ({len(idle)} reads)")
    print(
        f"    status read, busy    p50 {ms(b50)}  p99 {ms(b99)}  ({len(busy)} reads during"
        f" {m['heavy_seconds']:.2f} s of the {HEAVY_QUBITS}-qubit job, status"
        f" {heavy.get('status')}, values {values})"
    )
    print(f"    busy/idle            p50 {b50 / i50:.2f}x  p99 {b99 / i99:.2f}x")
    return summary(
        "load",
        (
            f"{jobs} jobs / {CLIENTS} clients: lost {len(lost)}, 5xx {len(five_xx)}, accepted "
            f"{len(s.job_ids) / submit_seconds:.1f}/s, completed {jobs / total_seconds:.1f}/s; "
            f"status read p50 idle {ms(i50)} busy {ms(b50)} ({b50 / i50:.2f}x), p99 "
            f"{ms(i99)} / {ms(b99)} ({b99 / i99:.2f}x)"
        ),
        {"idle_p50_s": i50, "busy_p50_s": b50, "idle_p99_s": i99, "busy_p99_s": b99},
        problems,
    )


if __name__ == "__main__":
    bench_main(__doc__, run, "400 jobs instead of 2000", jobs="number of jobs (a multiple of 16)")
