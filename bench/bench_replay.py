"""(f) Replay: `qorch replay` over ~100 000 events vs reading and decoding the same log with the
event-sourcing library alone; the rebuilt views must equal the live ones.

The store is built by `big_store.build` (jobs recorded through the domain, then repeated with
fresh ids; its views projected to the log head, as a server's live views would be). Then:

- baseline: a fresh Python process opens the application (for its recorder and mapper) and
  pages through the whole log with `recorder.select_notifications(start, 5000,
  inclusive_of_start=False)` and `mapper.to_domain_event(n)` for every notification, the page
  size `qorch replay` reads with; it runs once before and once after the replay, and the faster
  one counts (so a busy moment does not flatter the ratio);
- `qorch replay --data-dir D` as a subprocess: its own line (`replayed N events in S s`) is
  quoted; exit status 0 means the rebuilt views equal the live ones.

Both rates are timed inside their process (process start and imports excluded). Printed: the
replay rate as a fraction of the baseline, against the target >= 0.5x.

    .venv/bin/python bench/bench_replay.py [--quick] [--events N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import big_store  # noqa: E402
from common import ROOT, Row, Summary, bench_main, machine_note, summary  # noqa: E402

PAGE = 5000
TARGET = 0.5
READ_LOG = f"""
import sys, time
from pathlib import Path
from qorch.bootstrap import open_application
from qorch.settings import Settings

app = open_application(Settings(data_dir=Path(sys.argv[1])))
started = time.perf_counter()
position = count = 0
while True:
    page = app.recorder.select_notifications(
        start=position, limit={PAGE}, inclusive_of_start=False
    )
    if not page:
        break
    for notification in page:
        app.mapper.to_domain_event(notification)
    count += len(page)
    position = page[-1].id
print(count, time.perf_counter() - started)
app.close()
"""


def read_log(data_dir: Path) -> tuple[int, float]:
    """(events, seconds) of the library reading and decoding the whole log, in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", READ_LOG, str(data_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "QORCH_LOG_LEVEL": "WARNING"},
        check=True,
    )
    count, seconds = done.stdout.split()[-2:]
    return int(count), float(seconds)


def replay(data_dir: Path) -> tuple[int, float, int, list[str]]:
    """(events, seconds, exit status, output lines) of `qorch replay`."""
    done = subprocess.run(
        [sys.executable, "-m", "qorch", "replay", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "QORCH_LOG_LEVEL": "WARNING"},
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    timing = next((line.split() for line in lines if line.startswith("replayed")), [])
    try:
        return int(timing[1]), float(timing[4]), done.returncode, lines
    except (IndexError, ValueError):
        return 0, float("nan"), done.returncode, lines


def run(quick: bool = False, events: int | None = None) -> Summary:
    events = events or (20_000 if quick else 100_000)
    print(f"(f) Replay: `qorch replay` over ~{events:,} events vs the library reading the log")
    print(f"    {machine_note()}")
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="qorch-bench-replay-") as tmp:
        data_dir = Path(tmp) / "data"
        store = big_store.build(data_dir, events)
        print(f"    {store.describe()}")
        problems += store.problems
        size = sum(f.stat().st_size for f in data_dir.iterdir() if f.is_file())
        print(f"    data directory {size / 2**20:.1f} MiB")
        reads = [read_log(data_dir)]
        replayed, seconds, status, lines = replay(data_dir)
        reads.append(read_log(data_dir))
    for line in lines:
        print(f"    qorch replay: {line}")
    rate = replayed / seconds if seconds > 0 else float("nan")
    base = max(count / took for count, took in reads)
    for when, (count, took) in zip(("before", "after"), reads, strict=True):
        print(
            f"    library read+decode ({when}): {count:,} events in {took:.2f} s "
            f"({count / took:,.0f} events/s)"
        )
    met = "met" if rate / base >= TARGET else "NOT met"
    print(
        f"    qorch replay {rate:,.0f} events/s vs library {base:,.0f} events/s (baseline) = "
        f"{rate / base:.2f}x (target >= {TARGET}x: {met})"
    )
    equal = status == 0
    print(f"    rebuilt views equal live views: {'yes' if equal else 'NO'}")
    if seconds != seconds:
        problems.append(f"no timing line from qorch replay: {lines[-3:]}")
    if not equal:
        problems.append(f"qorch replay exited {status}: rebuilt views differ from live")
    if replayed != store.events or any(count != store.events for count, _ in reads):
        problems.append(
            f"the log holds {store.events} events; replay read {replayed}, the library "
            f"{[count for count, _ in reads]}"
        )
    return summary(
        "replay",
        (
            f"{store.events:,} events: replay {rate:,.0f} events/s vs library read+decode "
            f"{base:,.0f} events/s = {rate / base:.2f}x (target >= {TARGET}x: {met}); "
            f"views equal {'yes' if equal else 'NO'}"
        ),
        {
            "replay_events_per_s": rate,
            "library_events_per_s": base,
            "ratio": rate / base,
            "events": float(store.events),
        },
        problems,
        [Row("replay", rate, "events/s", baseline=base)],
    )


if __name__ == "__main__":
    bench_main(__doc__, run, "20 000 events instead of 100 000", events="events in the log")
