"""Runs the benchmarks one after the other and prints a compact summary.

    .venv/bin/python bench/run_all.py [--quick] [--poll-interval S] [--only NAME ...]

Each benchmark starts its own qorch server; every figure is a ratio against a baseline measured
in the same run (direct Qiskit Aer calls in this process), never an absolute pass/fail timing.
Exits 1 when a benchmark saw errors (non-2xx answers, jobs not Done, wrong results).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_latency  # noqa: E402
import bench_load  # noqa: E402
import bench_qasm  # noqa: E402
import bench_replay  # noqa: E402
import bench_sweep  # noqa: E402
import bench_throughput  # noqa: E402
import bench_workers  # noqa: E402
from common import Summary, machine_note  # noqa: E402

BENCHMARKS: dict[str, Callable[[bool, str | None], Summary]] = {
    "latency": lambda quick, poll: bench_latency.run(quick, poll_interval=poll),
    "sweep": lambda quick, poll: bench_sweep.run(quick, poll_interval=poll),
    "throughput": lambda quick, poll: bench_throughput.run(quick, poll_interval=poll),
    "qasm": lambda quick, poll: bench_qasm.run(quick),
}
# Longer runs (minutes each): only with --only NAME, never in the default set.
OPT_IN: dict[str, Callable[[bool, str | None], Summary]] = {
    "workers": lambda quick, poll: bench_workers.run(quick),
    "scaling": lambda quick, poll: bench_workers.run_scaling(quick),
    "load": lambda quick, poll: bench_load.run(quick),
    "replay": lambda quick, poll: bench_replay.run(quick),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations everywhere")
    parser.add_argument("--poll-interval", help="QORCH_POLL_INTERVAL for the servers")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted({**BENCHMARKS, **OPT_IN}),
        help="a subset; workers, scaling, load and replay run only when named here",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summaries: list[Summary] = []
    errors: list[str] = []
    for name in args.only or list(BENCHMARKS):
        try:
            summaries.append({**BENCHMARKS, **OPT_IN}[name](args.quick, args.poll_interval))
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
    failed = errors or any(summary.problems for summary in summaries)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
