"""(f) Replay: build an event store of ~100 000 events through the application, then time
`qorch replay` (events/s) and check that the rebuilt views equal the live ones.

The events are real: each job's request is checked and planned by the `Qorch` application
(`_new_job`, the code path of `submit_job`), and the `Job` aggregate's own commands record
Submitted, Claimed and Executed (a Bell distribution as the result); only the simulation is
skipped, and jobs are saved 200 to a transaction so that 100 000 events take seconds, not
minutes (one command per transaction records about 500 events/s on a small machine). A
`Projector` keeps live views up to date after every batch, as a server would. Then
`qorch replay --data-dir D` runs as a subprocess; its own timing line is quoted, and its exit
status says whether the rebuilt views equal the live ones (0: equal). The baseline is the rate at
which the same events were recorded.

    .venv/bin/python bench/bench_replay.py [--quick] [--events N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BELL_QASM, ROOT, Summary, bench_main, machine_note, summary  # noqa: E402

JOBS_PER_EXPERIMENT = 500
BATCH = 200


def build_store(data_dir: Path, events: int) -> tuple[int, float]:
    """Records jobs until the log holds at least `events` events; answers (events, seconds)."""
    from qorch.bootstrap import open_application
    from qorch.domain.execution import CircuitOutcome, ExecutionOutcome
    from qorch.domain.job import Job
    from qorch.domain.requests import RunRequest
    from qorch.domain.results import nest_results
    from qorch.projections.database import ViewDatabase
    from qorch.projections.projector import Projector
    from qorch.settings import Settings

    settings = Settings(data_dir=data_dir)
    app = open_application(settings)
    views = ViewDatabase(settings.views_path)
    projector = Projector(app, views)
    outcome = ExecutionOutcome(
        circuits=[
            CircuitOutcome(
                distributions=[{"00": 0.5, "11": 0.5}],
                counts=[{"00": 50, "11": 50}],
                transpiled={"qubits": 2, "depth": 3, "gates_1q": 1, "gates_2q": 1},
            )
        ],
        metadata={"bench": "replay"},
    )
    results = nest_results(outcome, with_parameters=False, with_observables=False)
    started = time.perf_counter()
    try:
        users = [app.register_user(f"bench-{i}")[0] for i in range(3)]
        position = app.recorder.max_notification_id() or 0
        jobs = 0
        owned: dict[UUID, RunRequest] = {}
        while position < events:
            batch: list[Job] = []
            for _ in range(BATCH):
                user = users[jobs % len(users)]
                if jobs % JOBS_PER_EXPERIMENT < len(users):
                    # a new experiment (and its stored circuit) for this user every 500 jobs
                    experiment_id = str(app.create_experiment(user, f"replay-{jobs}").id)
                    circuit, _ = app.store_circuit(user, experiment_id, BELL_QASM)
                    owned[user] = RunRequest(
                        experiment_id=experiment_id, circuit_ids=[str(circuit.id)], shots=100
                    )
                # The domain's own commands: the request is checked and planned like a submit,
                # the aggregate records Submitted, Claimed and Executed; saved 200 jobs at a time.
                job, new_circuits, _ = app._new_job(user, owned[user])
                assert not new_circuits
                job.claim("bench-worker", time.time(), 30.0, False)
                job.record_results("bench-worker", results)
                batch.append(job)
                jobs += 1
            app.save(*batch)
            projector.rebuild()  # catches up from its position: the live views follow
            position = app.recorder.max_notification_id() or 0
    finally:
        views.close()
        app.close()
    return position, time.perf_counter() - started


def run(quick: bool = False, events: int | None = None) -> Summary:
    events = events or (20_000 if quick else 100_000)
    print(f"(f) Replay: a store of ~{events} events recorded through the application")
    print(f"    {machine_note()}")
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="qorch-bench-replay-") as tmp:
        data_dir = Path(tmp) / "data"
        recorded, record_seconds = build_store(data_dir, events)
        print(
            f"    recorded {recorded} events in {record_seconds:.1f} s "
            f"({recorded / record_seconds:,.0f} events/s, live views followed; baseline)"
        )
        size = sum(f.stat().st_size for f in data_dir.iterdir() if f.is_file())
        print(f"    data directory {size / 2**20:.1f} MiB")
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "qorch", "replay", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "QORCH_LOG_LEVEL": "WARNING"},
        )
        wall = time.perf_counter() - started
    lines = (done.stdout + done.stderr).strip().splitlines()
    for line in lines:
        print(f"    qorch replay: {line}")
    replay_line = next((line for line in lines if line.startswith("replayed")), "")
    try:
        replayed = int(replay_line.split()[1])
        seconds = float(replay_line.split()[4])
    except (IndexError, ValueError):
        replayed, seconds = 0, float("nan")
        problems.append(f"no timing line from qorch replay: {lines[-3:]}")
    rate = replayed / seconds if seconds == seconds and seconds > 0 else float("nan")
    print(
        f"    replay {rate:,.0f} events/s = {rate / (recorded / record_seconds):.1f}x the "
        f"recording rate; `qorch replay` wall time {wall:.1f} s (process start included)"
    )
    if done.returncode != 0:
        problems.append(f"qorch replay exited {done.returncode}: rebuilt views differ from live")
    if replayed != recorded:
        problems.append(f"replayed {replayed} events, the log holds {recorded}")
    print(f"    rebuilt views equal live views: {'yes' if done.returncode == 0 else 'NO'}")
    return summary(
        "replay",
        (
            f"{recorded} events: replay {rate:,.0f} events/s "
            f"({rate / (recorded / record_seconds):.1f}x recording); views equal "
            f"{'yes' if done.returncode == 0 else 'NO'}"
        ),
        {"replay_events_per_s": rate, "events": float(recorded)},
        problems,
    )


main = bench_main(
    __doc__, run, "20 000 events instead of 100 000", {"--events": "events to record"}
)

if __name__ == "__main__":
    sys.exit(main())
