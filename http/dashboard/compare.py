"""Two jobs side by side: for each circuit (and parameter set), their distributions overlaid,
or their expectation values in one chart (against the swept parameter when both swept the
same one)."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response

from qorch.http.context import service_of
from qorch.http.dashboard.charts import Point, expectation_svg, grouped_histogram_svg
from qorch.http.dashboard.job_view import top_of
from qorch.http.dashboard.pages import Context, found, signed_in
from qorch.http.dashboard.plots import XY, Series, xy_svg
from qorch.http.dashboard.reads import circuit_facts
from qorch.http.dashboard.rendering import render
from qorch.http.dashboard.results import MAX_CHARTS, Chart, JobResults, per_set
from qorch.http.dashboard.session import Session
from qorch.http.dashboard.sweeps import Circuit, varying
from qorch.projections import dashboard, jobs


def _view(db: Any, user_id: str, job_id: str, top: int) -> JobResults:
    job = found(jobs.get_job(db, user_id, job_id, with_inputs=False), "job")
    facts = circuit_facts(db, user_id, job["circuit_ids"])
    inputs = dashboard.job_inputs(db, job_id)
    return JobResults(
        job=job,
        results=jobs.get_results(db, job_id) if job["status"] in jobs.FINAL else None,
        parameters=inputs.get("parameters"),
        observables=inputs.get("observables"),
        circuit_names={cid: fact["name"] for cid, fact in facts.items()},
        circuit_parameters={cid: fact["parameters"] for cid, fact in facts.items()},
        top=top,
    )


@signed_in
async def compare_page(request: Request, session: Session, context: Context) -> Response:
    db = service_of(request).views.connection()
    top = top_of(request)
    a = _view(db, session.user_id, request.query_params.get("a", ""), top)
    b = _view(db, session.user_id, request.query_params.get("b", ""), top)
    charts = await anyio.to_thread.run_sync(compare_charts, a, b)
    return render(
        "compare.html",
        **context,
        a=a.job,
        b=b.job,
        charts=charts,
        same_circuits=a.job["circuit_ids"] == b.job["circuit_ids"],
    )


def _name(view: JobResults, letter: str) -> str:
    job = view.job
    return f"{letter}: {job.get('name') or job['id'][:8]} on {job['device_id']}"


def compare_charts(a: JobResults, b: JobResults) -> list[Chart]:
    if not (a.results and a.results.get("quantum_results")) or not (
        b.results and b.results.get("quantum_results")
    ):
        return []
    if a.job.get("has_observables") != b.job.get("has_observables"):
        return []
    count = min(len(a.results["quantum_results"]), len(b.results["quantum_results"]))
    charts: list[Chart] = []
    for i in range(count):
        if a.job.get("has_observables"):
            charts.append(_expectations(a, b, i))
        else:
            charts.extend(_distributions(a, b, i, MAX_CHARTS - len(charts)))
        if len(charts) >= MAX_CHARTS:
            break
    return charts[:MAX_CHARTS]


def _distribution_sets(view: JobResults, i: int) -> list[Any]:
    results = view.results or {}
    key = "quantum_results"
    if view.job.get("run_type") == "StatevectorRun" and results.get("probabilities") is not None:
        key = "probabilities"
    return per_set(results[key][i], view.has_parameters)


def _distributions(a: JobResults, b: JobResults, i: int, room: int) -> list[Chart]:
    sets_a, sets_b = _distribution_sets(a, i), _distribution_sets(b, i)
    charts = []
    for j in range(min(len(sets_a), len(sets_b), room)):
        if not isinstance(sets_a[j], dict) or not isinstance(sets_b[j], dict):
            continue
        series = [(_name(a, "A"), sets_a[j], None), (_name(b, "B"), sets_b[j], None)]
        title = a.title(i) + (f" · parameter set {j}" if a.has_parameters else "")
        charts.append(Chart("histogram", title, grouped_histogram_svg(series, a.top)))
    return charts


def _expectations(a: JobResults, b: JobResults, i: int) -> Chart:
    results_a, results_b = a.results or {}, b.results or {}
    circuits = [
        Circuit(view, i, results["quantum_results"][i], _uncertainty(results, i))
        for view, results in ((a, results_a), (b, results_b))
    ]
    columns = [varying(circuit.sets) for circuit in circuits]
    names = [_name(a, "A"), _name(b, "B")]
    if all(len(c) == 1 for c in columns) and circuits[0].name(columns[0][0]) == circuits[1].name(
        columns[1][0]
    ):
        series = [
            Series(
                f"{who} · {label}",
                [
                    XY(values[column[0]], *got)
                    for j, values in enumerate(circuit.sets)
                    if (got := circuit.value(k, j)) is not None
                ],
            )
            for who, circuit, column in zip(names, circuits, columns, strict=True)
            for k, label in enumerate(circuit.labels)
        ]
        title = f"{a.title(i)} · sweep over {circuits[0].name(columns[0][0])}"
        return Chart("sweep", title, xy_svg(series, circuits[0].name(columns[0][0])))
    points: list[Point] = []
    for k in range(max(len(c.values) for c in circuits)):
        for j in range(max(len(c.values[k]) if k < len(c.values) else 0 for c in circuits)):
            for s, circuit in enumerate(circuits):
                got = circuit.value(k, j) if k < len(circuit.values) else None
                if got is not None:
                    label = f"O{k}" + (f"·p{j}" if circuit.sets else "")
                    points.append(Point(label, *got, series=s))
    return Chart("expectation", a.title(i), expectation_svg(points[:200], names))


def _uncertainty(results: dict[str, Any], i: int) -> Any:
    uncertainty = results.get("uncertainty") or []
    return uncertainty[i] if i < len(uncertainty) else None
