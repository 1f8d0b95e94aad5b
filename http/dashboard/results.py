"""A job's results as charts: a histogram per distribution, expectation values with error bars
per observable and parameter set, and the statevector's probabilities for a StatevectorRun. An
execution that failed in a job with partial results shows its error in its place."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from markupsafe import Markup

from qorch.http.dashboard.charts import Point, expectation_svg, histogram_svg

MAX_CHARTS = 24
"""A sweep can hold thousands of distributions: the page shows the first ones."""


@dataclass(frozen=True)
class Chart:
    kind: str  # "histogram" | "expectation" | "probabilities" | "failed"
    title: str
    svg: Markup


@dataclass(frozen=True)
class ResultCharts:
    charts: list[Chart]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.charts)


def _per_set(value: Any, has_parameters: bool) -> list[Any]:
    return list(value) if has_parameters else [value]


def failure_note(error: dict[str, Any]) -> Markup:
    code, message = escape(str(error.get("code"))), escape(str(error.get("message")))
    return Markup(f'<p class="error failed-execution"><code>{code}</code> {message}</p>')


def charts_for(job: dict[str, Any], results: dict[str, Any] | None) -> ResultCharts:
    if not results or not results.get("quantum_results"):
        return ResultCharts([], 0)
    has_parameters = bool(job.get("has_parameters"))
    names: dict[str, str] = job.get("circuit_names", {})
    ids: list[str] = list(job.get("circuit_ids") or [])
    failures: list[Any] | None = results.get("errors")
    if job.get("has_observables"):
        return _expectations(results, has_parameters, ids, names)
    if job.get("run_type") == "StatevectorRun" and results.get("probabilities") is not None:
        return _distributions(
            results["probabilities"], None, has_parameters, ids, names, "probabilities", failures
        )
    return _distributions(
        results["quantum_results"],
        results.get("uncertainty"),
        has_parameters,
        ids,
        names,
        "histogram",
        failures,
    )


def _circuit_title(i: int, circuit_id: str | None, names: dict[str, str]) -> str:
    name = names.get(circuit_id or "", "")
    return f"Circuit {i}" + (f" ({name})" if name else "")


def _distributions(
    per_circuit: list[Any],
    errors: list[Any] | None,
    has_parameters: bool,
    ids: list[str],
    names: dict[str, str],
    kind: str,
    failures: list[Any] | None = None,
) -> ResultCharts:
    charts: list[Chart] = []
    total = 0
    for i, value in enumerate(per_circuit):
        sets = _per_set(value, has_parameters)
        set_errors = _per_set(errors[i], has_parameters) if errors else [None] * len(sets)
        failed = _per_set(failures[i], has_parameters) if failures else [None] * len(sets)
        for j, distribution in enumerate(sets):
            total += 1
            if len(charts) >= MAX_CHARTS:
                continue
            title = _circuit_title(i, ids[i] if i < len(ids) else None, names)
            if has_parameters:
                title += f" · parameter set {j}"
            failure: dict[str, Any] | None = failed[j] if j < len(failed) else None
            if failure:
                charts.append(Chart("failed", title, failure_note(failure)))
                continue
            err = set_errors[j] if j < len(set_errors) else None
            charts.append(Chart(kind, title, histogram_svg(distribution, err)))
    return ResultCharts(charts, total)


def _expectations(
    results: dict[str, Any], has_parameters: bool, ids: list[str], names: dict[str, str]
) -> ResultCharts:
    charts: list[Chart] = []
    uncertainty = results.get("uncertainty") or []
    failures = results.get("errors") or []
    for i, per_observable in enumerate(results["quantum_results"]):
        points: list[Point] = []
        failed = _failed_sets(failures[i] if i < len(failures) else None, has_parameters)
        errors = uncertainty[i] if i < len(uncertainty) else [None] * len(per_observable)
        for k, values in enumerate(per_observable):
            value_sets = _per_set(values, has_parameters)
            error_sets = _per_set(errors[k], has_parameters) if errors[k] is not None else []
            for j, value in enumerate(value_sets):
                if j in failed:
                    continue
                error = float(error_sets[j]) if j < len(error_sets) else 0.0
                label = f"O{k}" + (f"·p{j}" if has_parameters else "")
                points.append(Point(label, float(value), error))
        title = _circuit_title(i, ids[i] if i < len(ids) else None, names)
        if len(charts) < MAX_CHARTS and points:
            charts.append(Chart("expectation", title, expectation_svg(points[:200])))
        for j, failure in failed.items():
            if len(charts) < MAX_CHARTS:
                where = title + (f" · parameter set {j}" if has_parameters else "")
                charts.append(Chart("failed", where, failure_note(failure)))
    return ResultCharts(charts, len(results["quantum_results"]))


def _failed_sets(per_observable: Any, has_parameters: bool) -> dict[int, dict[str, Any]]:
    """The failed parameter sets of one circuit with observables (each observable's row holds
    the same failures: read the first)."""
    if not per_observable:
        return {}
    sets = _per_set(per_observable[0], has_parameters)
    return {j: failure for j, failure in enumerate(sets) if failure}
