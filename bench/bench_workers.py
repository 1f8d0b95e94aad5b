"""(d) Separate workers: 500 Bell jobs run by 3 `qorch worker` processes behind one
`qorch serve --no-worker`, on one shared store; then again with one worker SIGKILLed mid-run.

Every job must end Done with exactly one `Executed` event, counted from the event store itself
(`qorch.service.open_application`, whole notification log) after every process has stopped.
SQLite (shared data directory) always; PostgreSQL too when `--database-url` (or
QORCH_BENCH_DATABASE_URL) names a server: a scratch database is created there, initialised with
`qorch db init`, and dropped at the end. Jobs are submitted over HTTP by 8 concurrent clients.

    .venv/bin/python bench/bench_workers.py [--quick] [--jobs N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import CLIENTS, statuses, submit_all, wait_until_settled  # noqa: E402
from common import ROOT, Server, Summary, machine_note  # noqa: E402

WORKERS = 3
ENV = {"QORCH_POLL_INTERVAL": "0.05", "QORCH_LEASE_SECONDS": "5", "QORCH_LOG_LEVEL": "WARNING"}


def start_worker(data_dir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "qorch", "worker", "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        start_new_session=True,  # its own group: SIGKILL takes its executor processes too
    )
    return process


def stop_group(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def executed_per_job(data_dir: Path, database_url: str) -> tuple[Counter[str], Counter[str], int]:
    """(Executed events per job id, Claimed events per job id, events in the log)."""
    from qorch.service import open_application
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


def one_run(label: str, jobs: int, database_url: str, kill_one: bool) -> Outcome:
    env = dict(ENV)
    if database_url:
        env["QORCH_DATABASE_URL"] = database_url
    with tempfile.TemporaryDirectory(prefix="qorch-bench-workers-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        if database_url:
            subprocess.run(
                [sys.executable, "-m", "qorch", "db", "init", "--data-dir", str(data_dir)],
                check=True,
                env={**os.environ, **env},
                cwd=ROOT,
                capture_output=True,
            )
        server = Server(extra_args=["--no-worker"], env=env, data_dir=data_dir)
        workers: list[subprocess.Popen[str]] = []
        try:
            server.start()
            workers = [start_worker(data_dir, env) for _ in range(WORKERS)]
            time.sleep(2.0)  # let the workers import qiskit before the clock starts
            submissions, settled, found = asyncio.run(
                drive(server, jobs, workers[0] if kill_one else None)
            )
        finally:
            for worker in workers:
                stop_group(worker)
            server.stop()
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
    for problem in problems[:10]:
        print(f"    PROBLEM: {problem}")
    return Summary(
        name="workers",
        headline="; ".join(
            f"{o.label}: {o.rate:.1f} jobs/s, not Done {o.not_done}, not once {o.not_once}"
            for o in outcomes
        ),
        numbers={f"{o.label} jobs_per_s": o.rate for o in outcomes},
        problems=problems,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="96 jobs instead of 504")
    parser.add_argument("--jobs", type=int, help="jobs per run (a multiple of 8)")
    parser.add_argument("--database-url", help="a PostgreSQL server to run on as well")
    args = parser.parse_args(argv)
    return 1 if run(args.quick, args.jobs, args.database_url).problems else 0


if __name__ == "__main__":
    sys.exit(main())
