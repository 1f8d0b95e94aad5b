"""The dashboard's routes, mounted by the application beside the API."""

from __future__ import annotations

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from qorch.http.dashboard import live, pages, usage
from qorch.http.dashboard.rendering import STATIC

GET, POST = ["GET"], ["POST"]
PAGES = (
    ("/", pages.home, GET),
    ("/dashboard", pages.home, GET),
    ("/dashboard/sign-in", pages.sign_in_form, GET),
    ("/dashboard/sign-in", pages.sign_in, POST),
    ("/dashboard/sign-out", pages.sign_out, POST),
    ("/dashboard/jobs", pages.jobs_page, GET),
    ("/dashboard/jobs/{job_id}", pages.job_page, GET),
    ("/dashboard/jobs/{job_id}/cancel", pages.cancel_job, POST),
    ("/dashboard/circuits/{circuit_id}", pages.circuit_page, GET),
    ("/dashboard/experiments", pages.experiments_page, GET),
    ("/dashboard/experiments/{experiment_id}", pages.experiment_page, GET),
    ("/dashboard/usage", usage.usage_page, GET),
    ("/dashboard/events", live.events, GET),
)
routes = [
    *(Route(path, page, methods=methods) for path, page, methods in PAGES),
    Mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static"),
]
