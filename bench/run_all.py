"""Runs the benchmarks one after the other and prints a compact summary, then the target table.

    .venv/bin/python bench/run_all.py [--quick] [--poll-interval S] [--only NAME ...]

Each benchmark starts its own qorch server; every figure is a ratio against a baseline measured
in the same run (direct Qiskit Aer calls in this process), never an absolute pass/fail timing.
The closing table has one line per row of the engine-speed targets (rows.TABLE): measure, value,
baseline, ratio, target, met / NOT met. Exits 1 when a benchmark saw errors (non-2xx answers,
jobs not Done, wrong results), never because a target was not met.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Summary, machine_note  # noqa: E402
from rows import table_lines  # noqa: E402


@dataclass(frozen=True)
class Bench:
    module: str
    function: str = "run"
    polls: bool = False
    """`run` takes poll_interval (it starts a server that runs its own worker)."""

    @property
    def present(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def run(self, quick: bool, poll_interval: str | None) -> Summary:
        function = getattr(importlib.import_module(self.module), self.function)
        options = {"poll_interval": poll_interval} if self.polls else {}
        summary: Summary = function(quick, **options)
        return summary


# The default set, in the order of the target table. startup and status are measured by modules
# another change adds: they run once bench_startup.py / bench_status.py exist (each module's
# `run(quick)` returns a Summary whose rows carry the keys "startup" / "status" of rows.TABLE).
BENCHMARKS: dict[str, Bench] = {
    "latency": Bench("bench_latency", polls=True),
    "throughput": Bench("bench_throughput", polls=True),
    "replay": Bench("bench_replay"),
    "sampling": Bench("bench_sampling", polls=True),
    "sweep": Bench("bench_sweep", polls=True),
    "startup": Bench("bench_startup"),
    "status": Bench("bench_status"),
    "qasm": Bench("bench_qasm"),
    "simulators": Bench("bench_simulators", polls=True),
    "floor": Bench("bench_floor"),
}
# Longer runs (minutes each): only with --only NAME, never in the default set.
OPT_IN: dict[str, Bench] = {
    "workers": Bench("bench_workers"),
    "scaling": Bench("bench_workers", "run_scaling"),
    "load": Bench("bench_load"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations everywhere")
    parser.add_argument("--poll-interval", help="QORCH_POLL_INTERVAL for the servers")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted({**BENCHMARKS, **OPT_IN}),
        help="a subset; workers, scaling and load run only when named here",
    )
    args = parser.parse_args(argv)
    every = {**BENCHMARKS, **OPT_IN}
    present = {name for name, bench in every.items() if bench.present}
    started = time.perf_counter()
    summaries: list[Summary] = []
    errors: list[str] = []
    names = [name for name in args.only or list(BENCHMARKS) if name in present]
    for name in names:
        try:
            summaries.append(every[name].run(args.quick, args.poll_interval))
        except Exception:
            errors.append(f"{name}: {traceback.format_exc()}")
            print(f"{name} FAILED:\n{traceback.format_exc()}", file=sys.stderr)
        print()
    elapsed = time.perf_counter() - started
    mode = "quick" if args.quick else "full"
    print(f"== qorch benchmarks ({mode}, {elapsed:.0f} s; {machine_note()}) ==")
    for summary in summaries:
        print(f"  {summary.name:<10} {summary.headline}")
        for problem in summary.problems[:5]:
            print(f"  {'':<10} PROBLEM: {problem}")
    for error in errors:
        print(f"  ERROR {error.splitlines()[0]} {error.strip().splitlines()[-1]}")
    print("\n== targets (each ratio against a baseline measured in this run) ==")
    rows = [row for summary in summaries for row in summary.rows]
    for line in table_lines(rows, ran=names, present=present):
        print(f"  {line}")
    failed = errors or any(summary.problems for summary in summaries)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
