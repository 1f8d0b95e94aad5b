"""The targets of the engine-speed issue, one row each, how a measured row is printed, and the
`Summary` a benchmark hands run_all.

A benchmark measures a row (`Row(key, value, unit, baseline=...)`); the target, what it bounds
(the value itself, or value / baseline) and the benchmark that measures it live in `TABLE` (the
issue's rows, in its order) or `EXTRA` (rows of our own), so each target is written once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    measure: str
    bound: float
    bench: str
    """The `run_all.py` name of the benchmark that measures it."""
    at_most: bool = True
    """The figure must be <= bound (else >= bound)."""
    relative: bool = True
    """The bound applies to value / baseline (else to the value itself)."""

    def text(self, unit: str) -> str:
        sign = "<=" if self.at_most else ">="
        return (
            f"{sign} {self.bound:g}x" if self.relative else f"{sign} {quantity(self.bound, unit)}"
        )


TABLE: dict[str, Target] = {
    "latency": Target("Bell submit->Done over HTTP p50 vs direct AerSimulator.run", 3, "latency"),
    "completed": Target(
        "1000 Bell jobs, 8 clients: completed/s vs direct sequential Aer",
        0.5,
        "throughput",
        at_most=False,
    ),
    "accepted": Target(
        "1000 Bell jobs, 8 clients: accepted/s",
        1000,
        "throughput",
        at_most=False,
        relative=False,
    ),
    "replay": Target(
        "qorch replay events/s vs reading+decoding the log (library)", 0.5, "replay", at_most=False
    ),
    "sampling": Target(
        "sampling sweep 14q x 300 sets x 4000 shots vs AerSimulator.run", 1.3, "sampling"
    ),
    "statevector_sweep": Target(
        "StatevectorRun sweep 10q x 1000 x 10 obs vs exact EstimatorV2", 1.1, "sweep"
    ),
    "startup": Target("start-up on a log of 1M events vs on an empty log", 2, "startup"),
    "status": Target(
        "status read p99, 100k jobs stored, 24-q StatevectorRun running",
        0.010,
        "status",
        relative=False,
    ),
}
"""The issue's table, in its order."""

EXTRA: dict[str, Target] = {
    "shots_sweep": Target(
        "Run sweep 10q x 1000 x 10 obs, 4096 shots, vs EstimatorV2 1/64", 1.3, "sweep"
    ),
    "statevector_24q": Target(
        "StatevectorRun 24q GHZ-like, 3 obs, vs Qiskit Statevector", 1, "simulators"
    ),
    "mps_60q": Target(
        "StatevectorRun 60q GHZ-like on MPS, 3 obs, exact (baseline: Aer)",
        1.0,
        "simulators",
        relative=False,
    ),
    "floor": Target("floor: Bell over HTTP, 2 commits, no orchestration, vs Aer", 3, "floor"),
    "floor_completed": Target(
        "floor: 1000 Bell jobs, 8 clients, completed/s vs direct Aer", 0.5, "floor", at_most=False
    ),
    "floor_accepted": Target(
        "floor: the same, accepted/s", 1000, "floor", at_most=False, relative=False
    ),
}


WIDTH = 64
HEADER = f"{'measure':<{WIDTH}} {'value':>15} {'baseline':>15} {'ratio':>6}  {'target':<17} verdict"


@dataclass(frozen=True)
class Row:
    """One measured row: `value` (and `baseline`, same unit) against the target of `key`."""

    key: str
    value: float
    unit: str
    """"s" for durations; anything else is a rate printed as it is (e.g. "jobs/s")."""
    baseline: float | None = None

    def __post_init__(self) -> None:
        if self.target.relative and self.baseline is None:
            raise ValueError(f"row {self.key}: its target is a ratio, so it needs a baseline")

    @property
    def target(self) -> Target:
        return {**TABLE, **EXTRA}[self.key]

    @property
    def figure(self) -> float:
        """What the target bounds."""
        if not self.target.relative:
            return self.value
        return self.value / self.baseline if self.baseline else math.nan

    @property
    def met(self) -> bool:
        figure, target = self.figure, self.target
        if math.isnan(figure):
            return False
        return figure <= target.bound if target.at_most else figure >= target.bound

    def line(self) -> str:
        base = quantity(self.baseline, self.unit) if self.baseline is not None else "-"
        figure = f"{self.figure:.2f}x" if self.target.relative else "-"
        return (
            f"{self.target.measure:<{WIDTH}} {quantity(self.value, self.unit):>15} "
            f"{base:>15} {figure:>6}  {self.target.text(self.unit):<17} "
            f"{'met' if self.met else 'NOT met'}"
        )


def quantity(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if unit == "s":
        return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.3f} s"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.2f} {unit}"


def table_lines(rows: Iterable[Row], ran: Iterable[str], present: Iterable[str]) -> list[str]:
    """The issue's table in its order (a line for a row nobody measured, saying why), then the
    extra rows."""
    by_key = {row.key: row for row in rows}
    ran, present = set(ran), set(present)
    lines = [HEADER]
    for key, target in TABLE.items():
        if key in by_key:
            lines.append(by_key[key].line())
            continue
        if target.bench not in present:
            why = f"bench {target.bench!r} is not present yet"
        elif target.bench not in ran:
            why = f"not run (run_all.py --only {target.bench})"
        else:
            why = f"bench {target.bench!r} reported no row"
        lines.append(f"{target.measure:<{WIDTH}} {'-':>15} {why}")
    lines += [row.line() for key, row in by_key.items() if key not in TABLE]
    return lines


@dataclass
class Summary:
    """What a benchmark hands to run_all: one headline line, a few named numbers, and the rows
    of the target table it measured."""

    name: str
    headline: str
    numbers: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


def summary(
    name: str,
    headline: str,
    numbers: dict[str, float],
    problems: list[str],
    rows: Sequence[Row] = (),
) -> Summary:
    """Prints the target rows and the problems under the benchmark's table and hands run_all its
    summary."""
    for row in rows:
        print(f"    {row.line()}")
    for problem in problems[:10]:
        print(f"    PROBLEM: {problem}")
    return Summary(name, headline, numbers, problems, list(rows))
