"""A job's page: what ran (parameters as a table, observables as text), its timeline, cost and
results as charts for people, with downloads and "run again". The changing part of the page is
also served alone (`/sections`), so that the browser swaps it in when the job ends instead of
reloading."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qorch.domain.errors import Conflict, NotFound
from qorch.http import commands
from qorch.http.auth import user_of
from qorch.http.context import service_of
from qorch.http.dashboard.charts import DEFAULT_TOP, TOP_CHOICES
from qorch.http.dashboard.lab_text import observable_label
from qorch.http.dashboard.pages import Context, checked_form, found, refused, signed_in
from qorch.http.dashboard.reads import circuit_facts
from qorch.http.dashboard.rendering import render
from qorch.http.dashboard.results import JobResults, charts_for
from qorch.http.dashboard.session import Session
from qorch.projections import dashboard, experiments, jobs

MAX_TABLE_ROWS = 200


def top_of(request: Request) -> int:
    try:
        top = int(request.query_params.get("top", DEFAULT_TOP))
    except ValueError:
        return DEFAULT_TOP
    return top if top in TOP_CHOICES else DEFAULT_TOP


def parameter_tables(
    circuit_ids: list[str], parameters: list[Any] | None, facts: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """A table per run of circuits that bind the same names to the same sets."""
    tables: list[dict[str, Any]] = []
    for i, sets in enumerate(parameters or []):
        cid = circuit_ids[i] if i < len(circuit_ids) else ""
        names = facts.get(cid, {}).get("parameters") or []
        if not names:
            continue
        last = tables[-1] if tables else None
        if last is not None and last["names"] == names and last["sets"] == sets:
            last["circuits"].append(i)
            continue
        tables.append(
            {
                "circuits": [i],
                "names": names,
                "sets": sets,
                "rows": sets[:MAX_TABLE_ROWS],
                "total": len(sets),
            }
        )
    return tables


def observable_lists(observables: list[Any] | None) -> list[dict[str, Any]]:
    lists: list[dict[str, Any]] = []
    for i, per_circuit in enumerate(observables or []):
        labels = [observable_label(observable) for observable in per_circuit]
        if lists and lists[-1]["labels"] == labels:
            lists[-1]["circuits"].append(i)
        else:
            lists.append({"circuits": [i], "labels": labels})
    return lists


async def job_context(request: Request, session: Session) -> dict[str, Any]:
    job_id = request.path_params["job_id"]
    db = service_of(request).views.connection()
    job = found(jobs.get_job(db, session.user_id, job_id, with_inputs=False), "job")
    facts = circuit_facts(db, session.user_id, job["circuit_ids"])
    names = {cid: fact["name"] for cid, fact in facts.items()}
    results = jobs.get_results(db, job_id) if job["status"] in jobs.FINAL else None
    inputs = dashboard.job_inputs(db, job_id)
    experiment = experiments.get_experiment(db, session.user_id, job["experiment_id"])
    view = JobResults(
        job={**job, "circuit_names": names},
        results=results,
        parameters=inputs.get("parameters"),
        observables=inputs.get("observables"),
        circuit_names=names,
        circuit_parameters={cid: fact["parameters"] for cid, fact in facts.items()},
        top=top_of(request),
    )
    charts = await anyio.to_thread.run_sync(charts_for, view)
    return {
        "job": job,
        "circuit_names": names,
        "experiment_name": experiment["name"] if experiment else None,
        "charts": charts,
        "parameter_tables": parameter_tables(job["circuit_ids"], inputs.get("parameters"), facts),
        "observable_lists": observable_lists(inputs.get("observables")),
        "cancellable": job["status"] not in jobs.FINAL,
        "final": job["status"] in jobs.FINAL,
        "top": view.top,
        "top_choices": TOP_CHOICES,
        "wide": any(chart.kind in ("histogram", "mitigated") for chart in charts.charts),
    }


@signed_in
async def job_page(request: Request, session: Session, context: Context) -> Response:
    return render("job.html", **context, **(await job_context(request, session)))


@signed_in
async def job_sections(request: Request, session: Session, context: Context) -> Response:
    """The part of the job page that changes while it runs, alone."""
    return render("_job_sections.html", **context, **(await job_context(request, session)))


async def cancel_job(request: Request) -> Response:
    session, _ = await checked_form(request)
    if session is None:
        return refused()
    job_id = request.path_params["job_id"]
    # Already final, or not theirs: the job page says what it is.
    with contextlib.suppress(NotFound, Conflict):
        await commands.cancel_job(service_of(request), user_of(request), job_id)
    return RedirectResponse(f"/dashboard/jobs/{job_id}", status_code=303)
