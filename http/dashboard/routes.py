"""The dashboard's routes, mounted by the application beside the API."""

from __future__ import annotations

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from qorch.http.dashboard import (
    compare,
    downloads,
    job_view,
    lab,
    lab_circuits,
    live,
    overview,
    pages,
    usage,
)
from qorch.http.dashboard.rendering import STATIC

GET, POST = ["GET"], ["POST"]
PAGES = (
    ("/", pages.home, GET),
    ("/dashboard", pages.home, GET),
    ("/dashboard/sign-in", pages.sign_in_form, GET),
    ("/dashboard/sign-in", pages.sign_in, POST),
    ("/dashboard/sign-out", pages.sign_out, POST),
    ("/dashboard/jobs", pages.jobs_page, GET),
    ("/dashboard/jobs/{job_id}", job_view.job_page, GET),
    ("/dashboard/jobs/{job_id}/sections", job_view.job_sections, GET),
    ("/dashboard/jobs/{job_id}/cancel", job_view.cancel_job, POST),
    ("/dashboard/jobs/{job_id}/results.json", downloads.results_json, GET),
    ("/dashboard/jobs/{job_id}/results.csv", downloads.results_csv, GET),
    ("/dashboard/circuits/{circuit_id}", pages.circuit_page, GET),
    ("/dashboard/experiments", pages.experiments_page, GET),
    ("/dashboard/experiments/{experiment_id}", overview.experiment_page, GET),
    ("/dashboard/compare", compare.compare_page, GET),
    ("/dashboard/lab", lab.lab_page, GET),
    ("/dashboard/lab/run", lab.run, POST),
    ("/dashboard/lab/experiments", lab.create_experiment, POST),
    ("/dashboard/lab/circuits/new", lab_circuits.new_circuit_page, GET),
    ("/dashboard/lab/circuits", lab_circuits.store_circuit, POST),
    ("/dashboard/usage", usage.usage_page, GET),
    ("/dashboard/events", live.events, GET),
)
routes = [
    *(Route(path, page, methods=methods) for path, page, methods in PAGES),
    Mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static"),
]
