"""The dashboard's routes, mounted by the application beside the API."""

from __future__ import annotations

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from qorch.http.dashboard import live, pages
from qorch.http.dashboard.rendering import STATIC

routes = [
    Route("/", pages.home, methods=["GET"]),
    Route("/dashboard", pages.home, methods=["GET"]),
    Route("/dashboard/sign-in", pages.sign_in_form, methods=["GET"]),
    Route("/dashboard/sign-in", pages.sign_in, methods=["POST"]),
    Route("/dashboard/sign-out", pages.sign_out, methods=["POST"]),
    Route("/dashboard/jobs", pages.jobs_page, methods=["GET"]),
    Route("/dashboard/jobs/{job_id}", pages.job_page, methods=["GET"]),
    Route("/dashboard/jobs/{job_id}/cancel", pages.cancel_job, methods=["POST"]),
    Route("/dashboard/circuits/{circuit_id}", pages.circuit_page, methods=["GET"]),
    Route("/dashboard/experiments", pages.experiments_page, methods=["GET"]),
    Route("/dashboard/experiments/{experiment_id}", pages.experiment_page, methods=["GET"]),
    Route("/dashboard/events", live.events, methods=["GET"]),
    Mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static"),
]
