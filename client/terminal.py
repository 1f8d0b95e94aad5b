"""What `qorch run`/`show`/`watch` draw: a live status line, histograms (top-k for wide
distributions), expectation-value and job tables. rich renders them; plain text off a terminal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from qorch.client.wire import FINAL

Job = dict[str, Any]
TOP = 16
"""Outcomes shown per histogram; a wider distribution shows its most likely ones."""
BAR = 40
PANELS = 8
"""Histograms shown per job; the rest are counted (`--json` has them all)."""
ROWS = 100
"""Rows of an expectation-value table shown; the rest are counted."""
STYLE = {"Queued": "yellow", "Running": "cyan", "Done": "green", "Error": "red", "Cancelled": "red"}


def short(job_id: str) -> str:
    return job_id[:8]


class StatusLine:
    """`⠋ job 1a2b3c4d Running  2.1 s` redrawn in place on a terminal; elsewhere one plain line
    per status."""

    def __init__(self, console: Console, started: float | None = None) -> None:
        self.console = console
        self.started = time.monotonic() if started is None else started
        self.job: Job = {}
        self.spinner = Spinner("dots")
        self.live: Live | None = None

    def __enter__(self) -> StatusLine:
        if self.console.is_terminal:
            self.live = Live(self, console=self.console, refresh_per_second=8, transient=False)
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self._line(final=True), refresh=True)
            self.live.stop()

    def update(self, job: Job) -> None:
        changed = job.get("status") != self.job.get("status")
        self.job = job
        if self.live is not None and changed:
            self.live.refresh()  # every status is drawn, however briefly it lasted
        elif self.live is None and changed:
            self.console.print(self._line(final=False))

    def _line(self, final: bool) -> Text:
        status = str(self.job.get("status", "Submitting"))
        line = Text.assemble(
            ("job ", "dim"),
            short(str(self.job.get("id", "?"))),
            " ",
            (status, STYLE.get(status, "")),
            f"  {self._elapsed():.1f} s",
        )
        if final and status not in FINAL:
            line.append("  (stopped waiting)", "dim")
        return line

    def _elapsed(self) -> float:
        """Seconds since submission: the server's own figure once the job has ended."""
        try:
            ended = datetime.fromisoformat(self.job["finish_date"])
            return (ended - datetime.fromisoformat(self.job["creation_date"])).total_seconds()
        except (KeyError, TypeError, ValueError):
            return time.monotonic() - self.started

    def __rich__(self) -> RenderableType:
        if self.job.get("status") in FINAL:
            return self._line(final=True)
        self.spinner.update(text=self._line(final=False))
        return self.spinner


def results(job: Job, observables: list[str] | None = None) -> RenderableType:
    """The job's outcome: its error, a dry run's estimate, expectation values or histograms."""
    if job.get("status") == "Error":
        error = job.get("error") or {}
        return Text(f"Error {error.get('code', '')}: {error.get('message', '')}", "red")
    if job.get("status") != "Done":
        return Text(f"job {job.get('id')} is {job.get('status')}")
    if job.get("dry_run"):
        return estimate(job.get("estimated_qpu_cost") or {})
    if job.get("has_observables"):
        return expectations(job, observables or _observable_labels(job))
    shown: list[RenderableType] = []
    index = -1
    for index, (label, probabilities, counts) in enumerate(distributions(job)):
        if index < PANELS:
            shown.append(_histogram(label, probabilities, counts))
    if index >= PANELS:
        shown.append(Text(f"… {index + 1 - PANELS} more distributions (--json has them all)"))
    return Group(*shown)


def executions(job: Job, nested: Any) -> Iterator[tuple[str, Any]]:
    """(label, value) per circuit (and parameter set) of a per-circuit result list."""
    for c, per_circuit in enumerate(nested or []):
        if job.get("has_parameters"):
            for s, value in enumerate(per_circuit or []):
                yield f"circuit {c}, parameter set {s}", value
        else:
            yield f"circuit {c}", per_circuit


def distributions(job: Job) -> Iterator[tuple[str, dict[str, float], dict[str, int] | None]]:
    info = job.get("info") or {}
    if job.get("run_type") == "StatevectorRun":
        for label, probabilities in executions(job, info.get("probabilities")):
            yield label, probabilities or {}, None
        return
    counts = dict(executions(job, job.get("counts")))
    for label, probabilities in executions(job, job.get("quantum_results")):
        yield label, probabilities or {}, counts.get(label)


def _histogram(
    label: str, probabilities: dict[str, float], counts: dict[str, int] | None
) -> RenderableType:
    table = Table(title=label, title_justify="left", box=None, show_header=False, pad_edge=False)
    for column in ("outcome", "bar", "count", "probability"):
        table.add_column(column, justify="left" if column in ("outcome", "bar") else "right")
    if not probabilities:
        table.add_row("(failed)", "", "", "")
        return table
    ranked = sorted(probabilities.items(), key=lambda item: -item[1])
    shown = ranked[:TOP] if len(ranked) > TOP else sorted(ranked)
    peak = max(p for _, p in shown) or 1.0
    for outcome, p in shown:
        count = str(counts.get(outcome, 0)) if counts is not None else ""
        bar = "█" * max(1, round(BAR * p / peak)) if p > 0 else ""
        table.add_row(outcome, Text(bar, "cyan"), count, f"{p:.4f}")
    if len(ranked) > TOP:
        rest = sum(p for _, p in ranked[TOP:])
        table.add_row(f"… {len(ranked) - TOP} more", "", "", f"{rest:.4f}")
    return table


def expectations(job: Job, observables: list[str]) -> Table:
    info = job.get("info") or {}
    table = Table("circuit", "observable", "parameter set", "value", "± std. error")
    if not job.get("has_parameters"):
        table.columns.pop(2)
    errors = info.get("uncertainty") or []
    hidden = 0
    for c, per_circuit in enumerate(job.get("quantum_results") or []):
        for o, value in enumerate(per_circuit or []):
            label = observables[o] if o < len(observables) else f"#{o}"
            sets = value if job.get("has_parameters") else [value]
            for s, number in enumerate(sets):
                error = _at(errors, c, o, s if job.get("has_parameters") else None)
                row = [str(c), label, str(s), _number(number), _number(error)]
                if not job.get("has_parameters"):
                    row.pop(2)
                if table.row_count < ROWS:
                    table.add_row(*row)
                else:
                    hidden += 1
    if hidden:
        table.caption = f"… {hidden} more values (--json has them all)"
    return table


def _at(nested: Any, *path: int | None) -> Any:
    for index in path:
        if index is None:
            continue
        if not isinstance(nested, list) or index >= len(nested):
            return None
        nested = nested[index]
    return nested


def _number(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, int | float) else "failed" if value is None else ""


def _observable_labels(job: Job) -> list[str]:
    """`ZZ:1,XI:0.5` per observable of the first circuit (when the job was read with inputs)."""
    try:
        return [observable_label(observable) for observable in job["observables"][0]]
    except (KeyError, IndexError, TypeError, ValueError):
        return []


def observable_label(observable: list[list[Any]]) -> str:
    paulis, coefficients = observable
    return ",".join(f"{p}:{c:g}" for p, c in zip(paulis, coefficients, strict=True))


def estimate(cost: dict[str, Any]) -> RenderableType:
    native, converted = cost.get("native") or {}, cost.get("converted") or {}
    head = Text.assemble(
        ("estimated cost: ", "bold"),
        f"{converted.get('amount', 0):.4g} {converted.get('unit', '')}",
        f"  ({native.get('amount', 0):.4g} {native.get('unit', '')})",
    )
    table = Table("circuit", "qubits", "depth", "1q gates", "2q gates")
    for c, circuit in enumerate(cost.get("circuits") or []):
        table.add_row(
            str(c),
            *(str(circuit.get(k, "")) for k in ("qubits", "depth", "gates_1q", "gates_2q")),
        )
    return Group(head, table)


def jobs_table(jobs: list[Job]) -> Table:
    table = Table("id", "status", "device", "shots", "created", "name")
    for job in jobs:
        status = str(job.get("status"))
        table.add_row(
            str(job.get("id")),
            Text(status, STYLE.get(status, "")),
            str(job.get("device_id", "")),
            str(job.get("shots", "")),
            str(job.get("creation_date", ""))[:19].replace("T", " "),
            str(job.get("name") or ""),
        )
    return table


def devices_table(devices: list[dict[str, Any]]) -> Table:
    table = Table("id", "provider", "qubits", "kind", "status")
    for device in devices:
        kind = "simulator" if device.get("simulator") else "QPU"
        if device.get("noisy"):
            kind += " (noisy)"
        table.add_row(
            str(device.get("id")),
            str(device.get("provider", "")),
            str(device.get("qubits", "")),
            kind,
            str(device.get("status", "")),
        )
    return table


def summary(job: Job) -> Text:
    status = str(job.get("status"))
    return Text.assemble(
        ("job ", "dim"),
        str(job.get("id")),
        " ",
        (status, STYLE.get(status, "")),
        f"  {job.get('device_id', '')}, {job.get('shots', '')} shots",
        f", {len(job.get('circuit_ids') or [])} circuit(s)",
        (", partial" if job.get("partial") else "", "yellow"),
    )
