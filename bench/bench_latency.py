"""(a) Bell job latency: submit -> Done seen by one client, over HTTP, vs a direct Aer run.

One client submits a Bell circuit (1024 shots, aer_simulator) and long-polls
GET /jobs/{id}?wait=30 right after the submit answers; the latency is from sending the submit to
receiving the Done document (results included). N jobs run sequentially after a warm-up. The
baseline is `AerSimulator().run(transpiled_bell, shots=1024).result()` in this process, timed
over the same N. Both are reported as p50/p99, and the ratios qorch/direct (target: p50 at most
3x). Then where each millisecond of a job goes, from the jobs' own event timestamps and metadata
(see timeline.PHASES): p50, p99 and mean of each phase.

    .venv/bin/python bench/bench_latency.py [--quick] [-n N] [--poll-interval S]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Server, Summary, bell_body, bench_main, served, summary, title, transpiled_bell  # noqa: E402
from rows import Row  # noqa: E402
from stats import ms, p50_p99, ratio  # noqa: E402
from timeline import PHASES, submit_and_read  # noqa: E402

SHOTS = 1024
SERIAL = ("send->Submitted", "Submitted->Claimed", "Claimed->Executed", "Executed->client")


def direct_latencies(n: int, warm_up: int, **options: Any) -> list[float]:
    circuit, simulator = transpiled_bell(**options)
    latencies: list[float] = []
    for i in range(warm_up + n):
        started = time.perf_counter()
        simulator.run(circuit, shots=SHOTS).result()
        if i >= warm_up:
            latencies.append(time.perf_counter() - started)
    return latencies


@dataclass
class Measured:
    latencies: list[float] = field(default_factory=list)
    submits: list[float] = field(default_factory=list)
    """Until the submit's answer (the job is recorded and projected)."""
    phases: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    """Server-side breakdown from the job's own timeline and metadata (timeline.PHASES)."""
    problems: list[str] = field(default_factory=list)


def qorch_latencies(server: Server, n: int, warm_up: int) -> Measured:
    experiment_id = server.create_experiment("bench-latency")
    body = bell_body(experiment_id, SHOTS)
    out = Measured()
    with server.client() as client:
        for i in range(warm_up + n):
            try:
                read = submit_and_read(client, body, wait=30)
            except httpx.HTTPStatusError as error:
                answer = error.response
                out.problems.append(f"submit answered {answer.status_code}: {answer.text[:200]}")
                continue
            job = read.job
            if job.get("status") != "Done":
                out.problems.append(f"job {job.get('id')}: {job.get('status')}")
                continue
            counts = job["counts"][0]
            if sum(counts.values()) != SHOTS or set(counts) - {"00", "11"}:
                out.problems.append(f"job {job['id']}: unexpected counts {counts}")
            if i >= warm_up:
                out.latencies.append(read.seconds)
                out.submits.append(read.answered)
                for phase, seconds in read.phases.items():
                    out.phases[phase].append(seconds)
    return out


def breakdown(measured: Measured) -> None:
    """Where the milliseconds of a Bell job go; the means of the serial phases add up to the
    mean latency (Submitted->answered overlaps what follows it)."""
    print("    where a job's time goes (event timestamps, job metadata; p50 / p99 / mean):")
    for phase in PHASES:
        values = measured.phases[phase]
        (p50, p99), mean = p50_p99(values), statistics.fmean(values)
        print(f"      {phase:<21} {ms(p50):>10} {ms(p99):>10} {ms(mean):>10}")
    serial = sum(statistics.fmean(measured.phases[phase]) for phase in SERIAL)
    print(
        f"      serial phases add up to {ms(serial)}; mean submit->Done "
        f"{ms(statistics.fmean(measured.latencies))}"
    )


def run(quick: bool = False, n: int | None = None, poll_interval: str | None = None) -> Summary:
    n = n or (50 if quick else 200)
    warm_up = 10
    title(f"(a) Bell latency: N={n} sequential jobs after {warm_up} warm-up, {SHOTS} shots")
    direct = direct_latencies(n, warm_up)
    single = direct_latencies(n, warm_up, max_parallel_threads=1)
    with served(poll_interval) as server:
        measured = qorch_latencies(server, n, warm_up)
    latencies, submits, problems = measured.latencies, measured.submits, measured.problems
    d50, d99 = p50_p99(direct)
    q50, q99 = p50_p99(latencies)
    s50, s99 = p50_p99(submits)
    t50, t99 = p50_p99(single)
    print(f"    direct Aer run      p50 {ms(d50):>10}  p99 {ms(d99):>10}  (baseline)")
    print(f"    direct, 1 thread    p50 {ms(t50):>10}  p99 {ms(t99):>10}  (reference)")
    print(f"    qorch submit answer p50 {ms(s50):>10}  p99 {ms(s99):>10}")
    print(f"    qorch submit->Done  p50 {ms(q50):>10}  p99 {ms(q99):>10}")
    print(f"    ratio qorch/direct  p50 {ratio(q50, d50):>10}  p99 {ratio(q99, d99):>10}")
    if measured.latencies:
        breakdown(measured)
    return summary(
        "latency",
        (
            f"Bell submit->Done p50 {ms(q50)} / p99 {ms(q99)} vs direct Aer "
            f"p50 {ms(d50)} / p99 {ms(d99)} (ratio p50 {ratio(q50, d50)}, "
            f"p99 {ratio(q99, d99)}; N={len(latencies)})"
        ),
        {
            "qorch_p50_s": q50,
            "qorch_p99_s": q99,
            "direct_p50_s": d50,
            "direct_p99_s": d99,
            "direct_1thread_p50_s": t50,
            "submit_p50_s": s50,
            "submit_p99_s": s99,
        },
        problems,
        [Row("latency", q50, "s", d50)],
    )


if __name__ == "__main__":
    bench_main(__doc__, run, "N=50 instead of 200", poll=True, n="number of measured jobs")
