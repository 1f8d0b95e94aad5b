"""Expectation values for people: against the value of the one parameter a sweep varies (a
line per observable, with error bars), as a heatmap over the two it varies, otherwise a point
per observable and parameter set. Where zero-noise extrapolation ran and the provider recorded
the unmitigated values (`info.metadata.mitigation.zne.unmitigated`), they are drawn beside the
mitigated ones."""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

from qorch.http.dashboard.charts import Point, expectation_svg
from qorch.http.dashboard.lab_text import observable_label
from qorch.http.dashboard.plots import MAX_HEATMAP_SIDE, XY, Series, heatmap_svg, xy_svg
from qorch.http.dashboard.results import (
    MAX_CHARTS,
    Chart,
    JobResults,
    ResultCharts,
    failure_note,
    per_set,
)

UNMITIGATED = "unmitigated"
MAX_POINTS = 2_000


class Circuit:
    """One circuit's expectation values, [observable][parameter_set], and their inputs."""

    def __init__(self, view: JobResults, i: int, values: list[Any], errors: Any) -> None:
        sets_of = view.has_parameters
        self.title = view.title(i)
        self.values = [per_set(row, sets_of) for row in values]
        self.errors = [
            per_set(errors[k], sets_of) if errors and errors[k] is not None else []
            for k in range(len(values))
        ]
        self.sets = view.parameter_sets(i) if sets_of else []
        self.names = view.parameter_names(i)
        observables = (view.observables or [])[i] if i < len(view.observables or []) else []
        self.labels = [
            f"O{k}: {observable_label(observables[k])}" if k < len(observables) else f"O{k}"
            for k in range(len(values))
        ]
        zne = view.mitigation("zne")
        raw = (zne.get("unmitigated") or {}).get(str(i))
        self.raw: list[list[float]] | None = raw if isinstance(raw, list) else None
        self.raw_error = float(zne.get("unmitigated_standard_error") or 0.0)

    def name(self, column: int) -> str:
        return self.names[column] if column < len(self.names) else f"parameter {column}"

    def value(self, k: int, j: int) -> tuple[float, float] | None:
        value = self.values[k][j] if j < len(self.values[k]) else None
        if value is None:
            return None
        error = self.errors[k][j] if j < len(self.errors[k]) else None
        return float(value), float(error or 0.0)

    def raw_value(self, k: int, j: int) -> float | None:
        if self.raw is None or k >= len(self.raw) or j >= len(self.raw[k]):
            return None
        return float(self.raw[k][j])


def expectation_charts(view: JobResults) -> ResultCharts:
    results = view.results or {}
    uncertainty = results.get("uncertainty") or []
    failures = results.get("errors") or []
    charts: list[Chart] = []
    for i, per_observable in enumerate(results["quantum_results"]):
        errors = uncertainty[i] if i < len(uncertainty) else None
        circuit = Circuit(view, i, per_observable, errors)
        failed = _failed_sets(failures[i] if i < len(failures) else None, view.has_parameters)
        charts.extend(_charts(circuit, set(failed)))
        for j, failure in failed.items():
            where = circuit.title + (f" · parameter set {j}" if view.has_parameters else "")
            charts.append(Chart("failed", where, failure_note(failure)))
    return ResultCharts(charts[:MAX_CHARTS], len(charts))


def varying(sets: list[list[float]]) -> list[int]:
    """The columns whose value changes from one parameter set to another."""
    width = len(sets[0]) if sets else 0
    return [c for c in range(width) if len({values[c] for values in sets}) > 1]


def _charts(circuit: Circuit, failed: set[int]) -> list[Chart]:
    columns = varying(circuit.sets)
    if len(columns) == 1 and len(circuit.sets) <= MAX_POINTS:
        return [_sweep(circuit, columns[0], failed)]
    if len(columns) == 2:
        heatmaps = _heatmaps(circuit, columns, failed)
        if heatmaps:
            return heatmaps
    return [_points(circuit, failed)] if circuit.values else []


def _sweep(circuit: Circuit, column: int, failed: set[int]) -> Chart:
    series: list[Series] = []
    for k, label in enumerate(circuit.labels):
        points, raw = [], []
        for j, values in enumerate(circuit.sets):
            found = circuit.value(k, j)
            if j in failed or found is None:
                continue
            points.append(XY(values[column], *found))
            raw_value = circuit.raw_value(k, j)
            if raw_value is not None:
                raw.append(XY(values[column], raw_value, circuit.raw_error))
        series.append(Series(label, points))
        if raw:
            series.append(Series(f"{label} ({UNMITIGATED})", raw))
    name = circuit.name(column)
    title = f"{circuit.title} · sweep over {name}"
    return Chart("sweep", title, xy_svg(series, name))


def _heatmaps(circuit: Circuit, columns: list[int], failed: set[int]) -> list[Chart]:
    a, b = columns
    pairs = [(values[a], values[b]) for values in circuit.sets]
    xs, ys = sorted({x for x, _ in pairs}), sorted({y for _, y in pairs})
    if len(set(pairs)) != len(pairs) or max(len(xs), len(ys)) > MAX_HEATMAP_SIDE:
        return []
    charts = []
    for k, label in enumerate(circuit.labels):
        for raw in (False, True) if circuit.raw is not None else (False,):
            cells: dict[tuple[float, float], tuple[float, float]] = {}
            for j, pair in enumerate(pairs):
                found = circuit.value(k, j)
                raw_value = circuit.raw_value(k, j)
                if j in failed or found is None:
                    continue
                if raw and raw_value is not None:
                    cells[pair] = (raw_value, circuit.raw_error)
                elif not raw:
                    cells[pair] = found
            what = f"{label} ({UNMITIGATED})" if raw else label
            title = f"{circuit.title} · {what} over {circuit.name(a)} and {circuit.name(b)}"
            svg = heatmap_svg(xs, ys, cells, circuit.name(a), circuit.name(b))
            charts.append(Chart("heatmap", title, svg))
    return charts


def _points(circuit: Circuit, failed: set[int]) -> Chart:
    points: list[Point] = []
    has_sets = bool(circuit.sets)
    for k in range(len(circuit.values)):
        for j in range(len(circuit.values[k])):
            found = circuit.value(k, j)
            if j in failed or found is None:
                continue
            label = f"O{k}" + (f"·p{j}" if has_sets else "")
            points.append(Point(label, *found))
            raw_value = circuit.raw_value(k, j)
            if raw_value is not None:
                points.append(Point(label, raw_value, circuit.raw_error, series=1))
    names = ["mitigated", UNMITIGATED] if circuit.raw is not None else None
    observables = "".join(f"<li>{escape(label)}</li>" for label in circuit.labels)
    svg = expectation_svg(points[:200], names)
    return Chart(
        "expectation", circuit.title, Markup(f'{svg}<ul class="observables">{observables}</ul>')
    )


def _failed_sets(per_observable: Any, has_parameters: bool) -> dict[int, dict[str, Any]]:
    """The failed parameter sets of one circuit with observables (each observable's row holds
    the same failures: read the first)."""
    if not per_observable:
        return {}
    sets = per_set(per_observable[0], has_parameters)
    return {j: failure for j, failure in enumerate(sets) if failure}
