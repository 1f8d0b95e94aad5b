"""An experiment at a glance: its jobs by status, the devices they ran on and what they cost
(estimated and actual), its latest circuits and jobs, links into the Lab, and two of its jobs
picked to compare."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from qorch.http.context import service_of
from qorch.http.dashboard.pages import PAGE_SIZE, STATUSES, Context, found, signed_in
from qorch.http.dashboard.reads import experiment_overview
from qorch.http.dashboard.rendering import render
from qorch.http.dashboard.session import Session
from qorch.projections import circuits, dashboard, experiments


@signed_in
async def experiment_page(request: Request, session: Session, context: Context) -> Response:
    experiment_id = request.path_params["experiment_id"]
    db = service_of(request).views.connection()
    experiment = found(experiments.get_experiment(db, session.user_id, experiment_id), "experiment")
    jobs = dashboard.jobs_page(db, session.user_id, experiment_id=experiment_id, limit=PAGE_SIZE)
    return render(
        "experiment.html",
        **context,
        experiment=experiment,
        overview=experiment_overview(db, session.user_id, experiment_id),
        statuses=STATUSES,
        circuits=circuits.list_circuits(db, session.user_id, experiment_id, PAGE_SIZE),
        jobs=jobs,
        experiments={experiment_id: experiment["name"]},
        filters={"experiment": experiment_id},
        live_insert=True,
    )
