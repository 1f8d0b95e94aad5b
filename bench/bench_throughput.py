"""(c) Throughput: 1000 small Bell jobs (100 shots) from 8 concurrent clients.

Eight asyncio tasks, each with its own httpx.AsyncClient, submit 125 jobs back to back. Reported:
accepted/s (submits answered / wall time of the submission phase), completed/s (from the first
submit until every job is Done, watched with GET /jobs?status=Queued|Running&limit=1 and then
verified by listing all jobs of the experiment), submit latency p50/p99, non-2xx answers (must be
0) and jobs not Done (must be 0). The baseline is the rate of sequential direct
`AerSimulator().run(bell, shots=100).result()` calls in this process, the fastest of three runs
(two before the server starts, one after it stops: Aer's default threads make a single run swing
two-fold on a shared 2-core machine). Targets: completed/s at least 0.5x the baseline;
accepted/s at least 1000/s.

    .venv/bin/python bench/bench_throughput.py [--quick] [--jobs N] [--poll-interval S]
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    RUN_PATH,
    Server,
    Summary,
    bell_body,
    bench_main,
    served,
    summary,
    title,
    transpiled_bell,
)
from rows import Row  # noqa: E402
from stats import ms, p50_p99  # noqa: E402

SHOTS = 100
CLIENTS = 8
PAGE = 500


@dataclass
class Submissions:
    job_ids: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    first_sent: float = 0.0
    last_answered: float = 0.0


def direct_rate(runs: int, **options: Any) -> float:
    circuit, simulator = transpiled_bell(**options)
    for _ in range(5):
        simulator.run(circuit, shots=SHOTS).result()
    started = time.perf_counter()
    for _ in range(runs):
        simulator.run(circuit, shots=SHOTS).result()
    return runs / (time.perf_counter() - started)


async def submit_all(server: Server, experiment_id: str, per_client: int) -> Submissions:
    body = bell_body(experiment_id, SHOTS)
    out = Submissions()
    start = asyncio.Event()

    async def client_task() -> None:
        async with server.async_client() as client:
            await client.get("/health")  # open the connection before the clock starts
            await start.wait()
            for _ in range(per_client):
                sent = time.perf_counter()
                try:
                    answer = await client.post(RUN_PATH, json=body)
                except httpx.HTTPError as error:
                    out.failures.append(f"{type(error).__name__}: {error}")
                    continue
                answered = time.perf_counter()
                out.last_answered = max(out.last_answered, answered)
                out.latencies.append(answered - sent)
                if answer.is_success:
                    out.job_ids.append(answer.json()["job"]["id"])
                else:
                    out.failures.append(f"{answer.status_code}: {answer.text[:200]}")

    tasks = [asyncio.create_task(client_task()) for _ in range(CLIENTS)]
    await asyncio.sleep(0.2)
    out.first_sent = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    return out


async def wait_until_settled(server: Server, experiment_id: str, timeout: float) -> float:
    """Polls until no job of the experiment is Queued or Running; answers when that was seen."""
    deadline = time.perf_counter() + timeout
    async with server.async_client() as client:
        while time.perf_counter() < deadline:
            # Queued first: a job goes Queued -> Running -> final, never back.
            pending = False
            for status in ("Queued", "Running"):
                answer = await client.get(
                    "/jobs", params={"experiment_id": experiment_id, "status": status, "limit": 1}
                )
                answer.raise_for_status()
                if answer.json()["jobs"]:
                    pending = True
                    break
            if not pending:
                return time.perf_counter()
            await asyncio.sleep(0.02)
    raise TimeoutError(f"jobs still pending after {timeout:.0f} s")


async def statuses(server: Server, experiment_id: str) -> dict[str, str]:
    found: dict[str, str] = {}
    async with server.async_client() as client:
        offset = 0
        while True:
            answer = await client.get(
                "/jobs", params={"experiment_id": experiment_id, "limit": PAGE, "offset": offset}
            )
            answer.raise_for_status()
            page = answer.json()["jobs"]
            found.update({job["id"]: job["status"] for job in page})
            if len(page) < PAGE:
                return found
            offset += PAGE


async def warm_up(server: Server, experiment_id: str) -> None:
    """Enough concurrent jobs that every worker process of the server has run one."""
    body = bell_body(experiment_id, SHOTS)
    async with server.async_client() as client:
        answers = await asyncio.gather(*(client.post(RUN_PATH, json=body) for _ in range(8)))
        ids = [answer.json()["job"]["id"] for answer in answers]
        await asyncio.gather(*(client.get(f"/jobs/{i}", params={"wait": 60}) for i in ids))


async def measure(server: Server, jobs: int) -> tuple[Submissions, float, dict[str, str]]:
    await warm_up(server, server.create_experiment("bench-throughput-warm-up"))
    experiment_id = server.create_experiment("bench-throughput")
    submissions = await submit_all(server, experiment_id, jobs // CLIENTS)
    settled = await wait_until_settled(server, experiment_id, timeout=600)
    return submissions, settled, await statuses(server, experiment_id)


def run(quick: bool = False, jobs: int | None = None, poll_interval: str | None = None) -> Summary:
    jobs = jobs or (200 if quick else 1000)
    jobs -= jobs % CLIENTS
    title(f"(c) Throughput: {jobs} Bell jobs ({SHOTS} shots), {CLIENTS} concurrent clients")
    rates = [direct_rate(jobs) for _ in range(2)]
    single = direct_rate(jobs, max_parallel_threads=1)
    with served(poll_interval) as server:
        submissions, settled, found = asyncio.run(measure(server, jobs))
    rates.append(direct_rate(jobs))  # the fastest of three counts: Aer's threads are noisy here
    baseline = max(rates)
    submit_seconds = submissions.last_answered - submissions.first_sent
    total_seconds = settled - submissions.first_sent
    accepted = len(submissions.job_ids) / submit_seconds
    completed = jobs / total_seconds
    not_done = [i for i in submissions.job_ids if found.get(i) != "Done"]
    problems = [f"non-2xx or failed submit: {f}" for f in submissions.failures]
    problems += [f"job {i} is {found.get(i)}, not Done" for i in not_done]
    p50, p99 = p50_p99(submissions.latencies)
    tried = ", ".join(f"{rate:.0f}" for rate in rates)
    print(f"    direct Aer runs, sequential       {baseline:8.1f} jobs/s (baseline; of {tried})")
    print(f"    direct Aer, 1 thread, sequential  {single:8.1f} jobs/s (reference)")
    print(
        f"    qorch accepted                    {accepted:8.1f} jobs/s "
        f"({len(submissions.job_ids)} in {submit_seconds:.2f} s)"
    )
    print(
        f"    qorch completed (all Done)        {completed:8.1f} jobs/s "
        f"({jobs} in {total_seconds:.2f} s) = {completed / baseline:.2f} of direct"
    )
    print(f"    submit latency                    p50 {ms(p50)}  p99 {ms(p99)}")
    print(f"    non-2xx/failed submits {len(submissions.failures)}, jobs not Done {len(not_done)}")
    rows = [Row("completed", completed, "jobs/s", baseline), Row("accepted", accepted, "jobs/s")]
    return summary(
        "throughput",
        (
            f"{jobs} Bell jobs / {CLIENTS} clients: accepted {accepted:.1f}/s, completed "
            f"{completed:.1f}/s = {completed / baseline:.2f} of direct Aer {baseline:.1f}/s; "
            f"submit p50 {ms(p50)} p99 {ms(p99)}; non-2xx {len(submissions.failures)}, "
            f"not Done {len(not_done)}"
        ),
        {
            "accepted_per_s": accepted,
            "completed_per_s": completed,
            "direct_per_s": baseline,
            "direct_1thread_per_s": single,
            "submit_p50_s": p50,
            "submit_p99_s": p99,
            "failures": float(len(submissions.failures)),
            "not_done": float(len(not_done)),
        },
        problems,
        rows,
    )


if __name__ == "__main__":
    bench_main(
        __doc__,
        run,
        "200 jobs instead of 1000",
        poll=True,
        jobs="number of jobs (a multiple of 8)",
    )
