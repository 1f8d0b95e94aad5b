"""(g) Start-up: `qorch serve` restarted on a log of 1M events vs on an empty log.

Two data directories: one built by `big_store.build` (~1 000 000 events, `--quick`: 100 000;
Done Bell jobs of three users, the views projected to the log head), and one whose log is
empty but for the user the server creates on its first start. Each server is started once
untimed (an experiment is created and a Bell job run to Done, so the views and the executor have
caught up, then the server is stopped normally), so every timed start is the restart of a
server that had caught up with its log, with its files in the OS cache.

"Started" means the server answers /health and has caught up. /health is polled every 0.1 s
(common.Server) and the views' log position it reports must be the head. Nothing tells when the
executor has read the log, so a Bell job (1024 shots, aer_simulator) is submitted as soon as
/health answers: the executor claims it only after reading the log up to its Submitted event,
so the start-up runs from starting the process until the job's Claimed event (its timestamp, in
the job's document; no polling; the submit itself waits for the circuit parser processes the
server starts). The job is run to Done before the server is stopped (so no start finds work
left), and the time until its Done document is read (which adds the first run in a fresh
worker process) is printed for context. Starts alternate (empty, big, empty, big, ...), 3 of
each; medians, and the ratio big/empty against the target <= 2x.

    .venv/bin/python bench/bench_startup.py [--quick] [--events N] [--starts N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import big_store  # noqa: E402
from common import RUN_PATH, Server, Summary, bell_body, bench_main, summary, title, until_final  # noqa: E402
from rows import Row  # noqa: E402
from stats import median, ratio  # noqa: E402

TARGET = 2.0
SHOTS = 1024


@dataclass
class Log:
    name: str
    data_dir: Path
    key: str = ""
    experiment_id: str = ""
    events: int = 0
    """The log head before the timed starts."""


@dataclass
class Start:
    health: float
    """Seconds from starting the process until /health answered."""
    submitted: float
    """... until the job submitted then was recorded."""
    claimed: float
    """... until the job submitted then was claimed: the executor had read the log."""
    done: float
    """... until the job's Done document was read."""


def run_job(server: Server, experiment_id: str, problems: list[str]) -> dict[str, Any]:
    """A Bell job submitted and long-polled until it is final; its document."""
    with server.client() as client:
        answer = client.post(RUN_PATH, json=bell_body(experiment_id, SHOTS))
        if answer.status_code != 201:
            problems.append(f"submit answered {answer.status_code}: {answer.text[:200]}")
            return {}
        job_id = answer.json()["job"]["id"]
        job = until_final(client, job_id)
    if job.get("status") != "Done":
        problems.append(f"job {job_id} after a start: {job.get('status')} {job.get('error')}")
    elif sum(job["counts"][0].values()) != SHOTS:
        problems.append(f"job {job_id} after a start: counts {job['counts'][0]}")
    return job


def prepare(log: Log, problems: list[str]) -> None:
    """The untimed first start: an experiment for the timed jobs, a job run to Done (so the
    executor has read the whole log, whatever it keeps of that), then a normal stop."""
    server = Server(data_dir=log.data_dir)
    server.key = log.key  # a store with users prints no key; the empty one prints its first
    with server:
        log.key = server.key
        log.experiment_id = server.create_experiment(f"bench-startup-{log.name}")
        run_job(server, log.experiment_id, problems)
        with server.client() as client:
            log.events = client.get("/health").json()["log_position"]


def start(log: Log, problems: list[str]) -> Start:
    server = Server(data_dir=log.data_dir)
    server.key = log.key
    began = time.time()
    with server:
        health = time.time() - began
        with server.client() as client:
            position = int(client.get("/health").json()["log_position"])
        job = run_job(server, log.experiment_id, problems)
        done = time.time() - began
    if position < log.events:
        problems.append(f"{log.name}: /health reported position {position} < head {log.events}")
    log.events = max(log.events, position)
    when = {e["type"]: e["timestamp"] for e in job.get("events", [])}
    submitted, claimed = (
        datetime.fromisoformat(when[kind]).timestamp() - began if when else done
        for kind in ("Submitted", "Claimed")
    )
    return Start(health, submitted, claimed, done)


def run(quick: bool = False, events: int | None = None, starts: int | None = None) -> Summary:
    events = events or (100_000 if quick else 1_000_000)
    starts = starts or 3
    title(f"(g) Start-up: `qorch serve` on ~{events:,} events vs an empty log, {starts} starts")
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="qorch-bench-startup-") as tmp:
        store = big_store.build(Path(tmp) / "big", events)
        print(f"    {store.describe()}")
        problems += store.problems
        logs = [Log("empty", Path(tmp) / "empty"), Log("big", store.data_dir, store.keys[0])]
        for log in logs:
            prepare(log, problems)
        measured: dict[str, list[Start]] = {log.name: [] for log in logs}
        for _ in range(starts):
            for log in logs:
                measured[log.name].append(start(log, problems))
    rows: dict[str, dict[str, float]] = {}
    for log in logs:
        rows[log.name] = row = {
            phase: median([getattr(s, phase) for s in measured[log.name]])
            for phase in ("health", "submitted", "claimed", "done")
        }
        each = ", ".join(f"{s.claimed:.2f}" for s in measured[log.name])
        print(
            f"    {log.name:<5} log ({log.events:>9,} events): /health {row['health']:6.2f} s, "
            f"job submitted {row['submitted']:6.2f} s, claimed {row['claimed']:6.2f} s "
            f"(each: {each}), Done {row['done']:6.2f} s"
        )
    empty, big = rows["empty"], rows["big"]
    met = "met" if big["claimed"] <= TARGET * empty["claimed"] else "NOT met"
    print(
        f"    start-up {logs[1].events:,} events / empty log: "
        f"{ratio(big['claimed'], empty['claimed'])} (target <= {TARGET}x: {met}); "
        f"until /health {ratio(big['health'], empty['health'])}, until the job is Done "
        f"{ratio(big['done'], empty['done'])}"
    )
    return summary(
        "startup",
        (
            f"start-up on {logs[1].events:,} events {big['claimed']:.2f} s vs empty log "
            f"{empty['claimed']:.2f} s (baseline) = {ratio(big['claimed'], empty['claimed'])} "
            f"(target <= {TARGET}x: {met}; /health alone {ratio(big['health'], empty['health'])})"
        ),
        {
            **{f"big_{phase}_s": value for phase, value in big.items()},
            **{f"empty_{phase}_s": value for phase, value in empty.items()},
            "ratio": big["claimed"] / empty["claimed"],
            "events": float(logs[1].events),
        },
        problems,
        [Row("startup", big["claimed"], "s", baseline=empty["claimed"])],
    )


if __name__ == "__main__":
    bench_main(
        __doc__,
        run,
        "100 000 events instead of 1 000 000",
        events="events in the big log",
        starts="timed starts of each server",
    )
