"""(k) Floor: a Bell job over HTTP with no orchestration at all, against direct Aer.

What any server of qorch's shape pays on this machine, whatever its engine: the client sends the
circuit, the server makes the job durable (one SQLite commit at synchronous=FULL, as Submitted)
and answers; the client asks for the job; the server runs the transpiled Bell circuit with Aer in
its own process, makes the outcome durable (a second commit, as Executed) and answers the counts.
A bare Starlette app on uvicorn (uvloop and httptools, as `qorch serve`), httpx as the client,
no event store, projection, worker process, queue, checks or authentication. Printed: its p50
against the direct `AerSimulator.run` p50 (the latency row's baseline), the same ratio the
latency row's target bounds (<= 3x), and its parts: an HTTP round trip to an empty endpoint, a
durable commit.

    .venv/bin/python bench/bench_floor.py [--quick] [-n N]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from bench_latency import SHOTS, direct_latencies  # noqa: E402
from bench_throughput import CLIENTS, direct_rate  # noqa: E402
from bench_throughput import SHOTS as THROUGHPUT_SHOTS  # noqa: E402
from common import BELL_QASM, Row, Summary, bench_main, free_port, stop_group, summary, title  # noqa: E402
from stats import p50_p99  # noqa: E402

HERE = Path(__file__).resolve().parent
RECORD = "UPDATE jobs SET counts = ? WHERE id = ?"


def serve(port: int, path: str) -> None:
    """The floor's server (run in its own process by `run`)."""
    import uvicorn
    from common import transpiled_bell
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    circuit, simulator = transpiled_bell()
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, body TEXT, counts TEXT)")

    async def submit(request: Request) -> JSONResponse:
        body = await request.body()
        with db:
            cursor = db.execute("INSERT INTO jobs (body) VALUES (?)", (body.decode(),))
        return JSONResponse({"id": cursor.lastrowid})

    async def job(request: Request) -> JSONResponse:
        shots = int(request.query_params.get("shots", SHOTS))
        counts = simulator.run(circuit, shots=shots).result().get_counts()
        with db:
            db.execute(RECORD, (str(counts), request.path_params["id"]))
        return JSONResponse({"status": "Done", "counts": counts})

    async def ping(request: Request) -> JSONResponse:
        return JSONResponse({})

    queued: asyncio.Queue[int] = asyncio.Queue()
    done = [0]

    async def enqueue(request: Request) -> JSONResponse:
        """Throughput: the job made durable and queued for the runner."""
        answer = await submit(request)
        queued.put_nowait(int(json.loads(bytes(answer.body))["id"]))
        return answer

    def execute(job_id: int) -> None:
        counts = simulator.run(circuit, shots=THROUGHPUT_SHOTS).result().get_counts()
        with db:
            db.execute(RECORD, (str(counts), job_id))

    async def runner() -> None:
        """Runs queued jobs one after another in a thread (the loop goes on serving), each
        outcome made durable."""
        while True:
            job_id = await queued.get()
            await asyncio.to_thread(execute, job_id)
            done[0] += 1

    async def finished(request: Request) -> JSONResponse:
        return JSONResponse({"done": done[0]})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(runner())
        yield
        task.cancel()

    routes = [
        Route("/run", submit, methods=["POST"]),
        Route("/jobs/{id:int}", job),
        Route("/ping", ping),
        Route("/queue", enqueue, methods=["POST"]),
        Route("/done", finished),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def throughput(port: int, jobs: int) -> tuple[float, float]:
    """(accepted/s, completed/s) of `jobs` jobs sent by CLIENTS clients, as (c) sends them."""
    body = {"device_id": "aer_simulator", "shots": THROUGHPUT_SHOTS, "circuits_qasm": [BELL_QASM]}
    start = asyncio.Event()
    base = f"http://127.0.0.1:{port}"

    async def client_task() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            await client.get("/ping")
            await start.wait()
            for _ in range(jobs // CLIENTS):
                (await client.post("/queue", json=body)).raise_for_status()

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        before = (await client.get("/done")).json()["done"]
        tasks = [asyncio.create_task(client_task()) for _ in range(CLIENTS)]
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        accepted = time.perf_counter() - started
        while (await client.get("/done")).json()["done"] < before + jobs:
            await asyncio.sleep(0.02)
        completed = time.perf_counter() - started
    return jobs / accepted, jobs / completed


def commit_latencies(path: str, n: int) -> list[float]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
    latencies = []
    for _ in range(n):
        started = time.perf_counter()
        with db:
            db.execute("INSERT INTO probe VALUES (1)")
        latencies.append(time.perf_counter() - started)
    db.close()
    return latencies


def run(quick: bool = False, n: int | None = None, jobs: int | None = None) -> Summary:
    n = n or (50 if quick else 200)
    jobs = jobs or (200 if quick else 1000)
    warm_up = 10
    title(f"(k) Floor: Bell over HTTP, two durable commits, no orchestration; N={n}")
    direct = direct_latencies(n, warm_up)
    problems: list[str] = []
    floor: list[float] = []
    pings: list[float] = []
    with tempfile.TemporaryDirectory(prefix="qorch-bench-floor-") as tmp:
        commits = commit_latencies(os.path.join(tmp, "probe.sqlite"), n)
        port = free_port()
        code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_floor; "
        code += f"bench_floor.serve({port}, {os.path.join(tmp, 'floor.sqlite')!r})"
        server = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, text=True)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        client.get("/ping")
                        break
                    except httpx.TransportError:
                        if time.monotonic() > deadline or server.poll() is not None:
                            raise
                        time.sleep(0.05)
                body = {"device_id": "aer_simulator", "shots": SHOTS, "circuits_qasm": [BELL_QASM]}
                for i in range(warm_up + n):
                    started = time.perf_counter()
                    job_id = client.post("/run", json=body).json()["id"]
                    done = client.get(f"/jobs/{job_id}", params={"shots": SHOTS}).json()
                    elapsed = time.perf_counter() - started
                    if sum(done["counts"].values()) != SHOTS:
                        problems.append(f"job {job_id}: counts do not sum to {SHOTS}")
                    started = time.perf_counter()
                    client.get("/ping")
                    if i >= warm_up:
                        floor.append(elapsed)
                        pings.append(time.perf_counter() - started)
            asyncio.run(throughput(port, 80))  # warm-up
            accepted, completed = asyncio.run(throughput(port, jobs))
        finally:
            stop_group(server)
    direct_jobs = direct_rate(jobs)
    d50, _ = p50_p99(direct)
    f50, f99 = p50_p99(floor)
    h50, _ = p50_p99(pings)
    c50, _ = p50_p99(commits)
    lines = [
        f"direct Aer run              p50 {d50 * 1e3:8.2f} ms  (baseline)",
        f"HTTP round trip, empty      p50 {h50 * 1e3:8.2f} ms  (x2 in a job)",
        f"durable commit (FULL, WAL)  p50 {c50 * 1e3:8.2f} ms  (x2 in a job)",
        f"floor: submit + run + read  p50 {f50 * 1e3:8.2f} ms  p99 {f99 * 1e3:.2f} ms",
        f"floor / direct Aer          p50 {f50 / d50:8.2f}x  (the latency row's target: <= 3x)",
        f"{jobs} jobs, {CLIENTS} clients: accepted {accepted:,.0f}/s, "
        f"completed {completed:,.0f}/s = {completed / direct_jobs:.2f}x",
        f"  of direct sequential Aer {direct_jobs:,.0f} jobs/s "
        "(the rows' targets: accepted >= 1,000/s, completed >= 0.5x)",
    ]
    for line in lines:
        print(f"    {line}")
    return summary(
        "floor",
        f"Bell over HTTP, no orchestration: p50 {f50 / d50:.2f}x direct Aer; "
        f"{completed / direct_jobs:.2f}x completed/s, {accepted:,.0f} accepted/s",
        {
            "floor_p50_s": f50,
            "direct_p50_s": d50,
            "http_p50_s": h50,
            "commit_p50_s": c50,
            "floor_accepted_per_s": accepted,
            "floor_completed_per_s": completed,
            "direct_jobs_per_s": direct_jobs,
        },
        problems,
        [
            Row("floor", f50, "s", d50),
            Row("floor_completed", completed, "jobs/s", direct_jobs),
            Row("floor_accepted", accepted, "jobs/s"),
        ],
    )


if __name__ == "__main__":
    bench_main(__doc__, run, "N=50, 200 jobs", n="number of measured jobs", jobs="throughput jobs")
