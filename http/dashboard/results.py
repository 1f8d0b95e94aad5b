"""A job's results as charts for people: a histogram per distribution (the top outcomes and an
"other" bar when there are many; raw beside mitigated when readout mitigation ran), expectation
values per observable (against the swept parameter's value, or a heatmap over two: see
sweeps.py), and the statevector's probabilities for a StatevectorRun. An execution that failed
in a job with partial results shows its error in its place."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from markupsafe import Markup

from qorch.http.dashboard.charts import DEFAULT_TOP, grouped_histogram_svg, histogram_svg

MAX_CHARTS = 24
"""A sweep can hold thousands of distributions: the page shows the first ones."""
RAW, MITIGATED = "raw (measured counts / shots)", "mitigated"


@dataclass(frozen=True)
class Chart:
    kind: str  # histogram | mitigated | expectation | sweep | heatmap | probabilities | failed
    title: str
    svg: Markup


@dataclass(frozen=True)
class ResultCharts:
    charts: list[Chart]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.charts)


@dataclass(frozen=True)
class JobResults:
    """What the charts of a job are drawn from: its document, results and inputs, and the
    names and parameters of its circuits."""

    job: dict[str, Any]
    results: dict[str, Any] | None
    parameters: list[Any] | None = None
    observables: list[Any] | None = None
    circuit_names: dict[str, str] = field(default_factory=dict)
    circuit_parameters: dict[str, list[str]] = field(default_factory=dict)
    top: int = DEFAULT_TOP

    @property
    def has_parameters(self) -> bool:
        return bool(self.job.get("has_parameters"))

    def circuit_id(self, i: int) -> str | None:
        ids = self.job.get("circuit_ids") or []
        return ids[i] if i < len(ids) else None

    def title(self, i: int) -> str:
        name = self.circuit_names.get(self.circuit_id(i) or "", "")
        return f"Circuit {i}" + (f" ({name})" if name else "")

    def parameter_names(self, i: int) -> list[str]:
        return self.circuit_parameters.get(self.circuit_id(i) or "", [])

    def parameter_sets(self, i: int) -> list[list[float]]:
        if not self.parameters or i >= len(self.parameters):
            return []
        return list(self.parameters[i])

    def mitigation(self, kind: str) -> dict[str, Any]:
        """What the provider recorded of `kind` (readout, zne) mitigation; {} when none ran."""
        metadata = (self.results or {}).get("metadata") or {}
        applied = metadata.get("mitigation") if isinstance(metadata, dict) else None
        found = applied.get(kind) if isinstance(applied, dict) else None
        return found if isinstance(found, dict) else {}


def per_set(value: Any, has_parameters: bool) -> list[Any]:
    return list(value) if has_parameters else [value]


def failure_note(error: dict[str, Any]) -> Markup:
    code, message = escape(str(error.get("code"))), escape(str(error.get("message")))
    return Markup(f'<p class="error failed-execution"><code>{code}</code> {message}</p>')


def charts_for(view: JobResults) -> ResultCharts:
    from qorch.http.dashboard.sweeps import expectation_charts

    results = view.results
    if not results or not results.get("quantum_results"):
        return ResultCharts([], 0)
    if view.job.get("has_observables"):
        return expectation_charts(view)
    if view.job.get("run_type") == "StatevectorRun" and results.get("probabilities") is not None:
        return _distributions(view, results["probabilities"], None, "probabilities")
    return _distributions(view, results["quantum_results"], results.get("uncertainty"), "histogram")


def raw_distribution(counts: Any) -> dict[str, float] | None:
    """Measured counts as probabilities (what readout mitigation started from)."""
    if not isinstance(counts, dict) or not counts:
        return None
    shots = sum(counts.values())
    return {outcome: n / shots for outcome, n in counts.items()} if shots else None


def _distributions(
    view: JobResults, per_circuit: list[Any], errors: list[Any] | None, kind: str
) -> ResultCharts:
    results = view.results or {}
    failures: list[Any] | None = results.get("errors")
    counts: list[Any] | None = results.get("counts")
    readout = (
        set(view.mitigation("readout").get("circuits") or []) if kind == "histogram" else set()
    )
    charts: list[Chart] = []
    total = 0
    has_parameters = view.has_parameters
    for i, value in enumerate(per_circuit):
        sets = per_set(value, has_parameters)
        set_errors = per_set(errors[i], has_parameters) if errors else [None] * len(sets)
        failed = per_set(failures[i], has_parameters) if failures else [None] * len(sets)
        raw_sets = per_set(counts[i], has_parameters) if counts and i in readout else []
        for j, distribution in enumerate(sets):
            total += 1
            if len(charts) >= MAX_CHARTS:
                continue
            title = view.title(i) + (f" · parameter set {j}" if has_parameters else "")
            failure: dict[str, Any] | None = failed[j] if j < len(failed) else None
            if failure:
                charts.append(Chart("failed", title, failure_note(failure)))
                continue
            err = set_errors[j] if j < len(set_errors) else None
            raw = raw_distribution(raw_sets[j]) if j < len(raw_sets) else None
            if raw is not None:
                series = [(RAW, raw, None), (MITIGATED, distribution, err)]
                charts.append(Chart("mitigated", title, grouped_histogram_svg(series, view.top)))
            else:
                charts.append(Chart(kind, title, histogram_svg(distribution, err, view.top)))
    return ResultCharts(charts, total)
