"""The Lab: run stored circuits from the browser. Its forms translate into the same commands
as REST (`commands.submit_run`, `store_circuit`, `create_experiment`), behind the session
cookie, the same-origin check and the CSRF token of every dashboard form.

Estimate records a dry run (no credentials are sent with it), waits for its price and shows
the form again from that job, with the cost; Run submits with the credentials typed into the
password fields, which go into the request's options and nowhere else: the form never shows
them again, and the command records only their names.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qorch.domain.devices import Device
from qorch.domain.requests import RUN_TYPES
from qorch.http import commands, queries
from qorch.http.auth import user_of
from qorch.http.context import service_of
from qorch.http.dashboard.lab_form import (
    CREDENTIAL_PREFIX,
    LabForm,
    credential_fields,
    credentials_from,
    form_field,
)
from qorch.http.dashboard.pages import Context, checked_post, found, page_context, signed_in
from qorch.http.dashboard.reads import circuit_facts
from qorch.http.dashboard.rendering import render
from qorch.http.dashboard.session import Session
from qorch.http.errors import ApiError, as_api_error, validated
from qorch.http.schemas import RunCircuitsRequest
from qorch.projections import circuits, dashboard, experiments, jobs

ESTIMATE_WAIT_SECONDS = 30.0
"""How long Estimate waits for the dry run's price before showing the form again."""
LISTED_CIRCUITS = 200


def _first(fields: dict[str, list[str]], name: str) -> str:
    return (fields.get(name) or [""])[0]


def _error_of(exc: Exception) -> ApiError:
    error = as_api_error(exc)
    if error is None:
        raise exc
    return error


@signed_in
async def lab_page(request: Request, session: Session, context: Context) -> Response:
    query = request.query_params
    db = service_of(request).views.connection()
    if query.get("job"):
        job = found(jobs.get_job(db, session.user_id, query["job"], with_inputs=False), "job")
        facts = circuit_facts(db, session.user_id, job["circuit_ids"])
        parameters = {cid: fact["parameters"] for cid, fact in facts.items()}
        form = LabForm.from_job(job, dashboard.job_inputs(db, job["id"]), parameters)
        return lab_form_page(
            request, session, context, form, estimate=job if job["dry_run"] else None
        )
    if query.get("circuit"):
        circuit = found(circuits.get_circuit(db, session.user_id, query["circuit"]), "circuit")
        form = LabForm(circuit["experiment_id"], [circuit["id"]])
        return lab_form_page(request, session, context, form)
    if query.get("experiment"):
        experiment = found(
            experiments.get_experiment(db, session.user_id, query["experiment"]), "experiment"
        )
        listed = circuits.list_circuits(db, session.user_id, experiment["id"], 2)
        form = LabForm(experiment["id"], [listed[0]["id"]] if len(listed) == 1 else [])
        return lab_form_page(request, session, context, form)
    return _start_page(request, session, context)


def _start_page(
    request: Request, session: Session, context: Context, error: str = "", status: int = 200
) -> Response:
    db = service_of(request).views.connection()
    return render(
        "lab_start.html",
        status,
        **context,
        experiments=dashboard.experiment_names(db, session.user_id),
        error=error,
    )


def _devices(request: Request) -> list[Device]:
    return list(service_of(request).catalogue.list())


def lab_form_page(
    request: Request,
    session: Session,
    context: Context,
    form: LabForm,
    *,
    estimate: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    db = service_of(request).views.connection()
    experiment = found(
        experiments.get_experiment(db, session.user_id, form.experiment_id), "experiment"
    )
    listed = circuits.list_circuits(db, session.user_id, experiment["id"], LISTED_CIRCUITS)
    shown = {circuit["id"] for circuit in listed}
    chosen = [
        doc
        for cid in form.circuit_ids
        if cid not in shown and (doc := circuits.get_circuit(db, session.user_id, cid))
    ]
    devices = _devices(request)
    return render(
        "lab.html",
        status,
        **context,
        form=form.shown(),
        experiment=experiment,
        circuits=chosen + listed,
        devices=devices,
        providers=sorted({device.provider for device in devices}),
        credentials=credential_fields(devices),
        credential_prefix=CREDENTIAL_PREFIX,
        run_types=RUN_TYPES,
        estimate=estimate,
        estimating=estimate is not None and estimate["status"] not in jobs.FINAL,
        errors=errors or {},
    )


@checked_post
async def run(request: Request, session: Session, fields: dict[str, list[str]]) -> Response:
    """Estimate (a dry run) or Run, from the Lab's form."""
    context = page_context(request, session)
    service, user = service_of(request), user_of(request)
    form = LabForm.from_fields(fields)
    db = service.views.connection()
    if experiments.get_experiment(db, session.user_id, form.experiment_id) is None:
        return render("not_found.html", 404, **context, kind="experiment")
    dry_run = _first(fields, "action") != "run"
    credentials = credentials_from(fields, service.catalogue.find(form.device_id))
    facts = circuit_facts(db, session.user_id, form.circuit_ids)
    try:
        body = form.request_body(
            [facts.get(cid, {}).get("parameters", []) for cid in form.circuit_ids],
            credentials,
            dry_run,
        )
        job = await commands.submit_run(service, user, validated(RunCircuitsRequest, body))
    except Exception as exc:
        error = _error_of(exc)
        where = form_field(error.field)
        message = f"{error.field}: {error.message}" if error.field else error.message
        return lab_form_page(
            request, session, context, form, errors={where: message}, status=error.status
        )
    if dry_run:
        await queries.job(service, user, job["id"], ESTIMATE_WAIT_SECONDS, include_inputs=False)
        return RedirectResponse(f"/dashboard/lab?job={job['id']}#estimate-result", 303)
    return RedirectResponse(f"/dashboard/jobs/{job['id']}", 303)


@checked_post
async def create_experiment(
    request: Request, session: Session, fields: dict[str, list[str]]
) -> Response:
    name, description = _first(fields, "name").strip(), _first(fields, "description")
    try:
        if not name:
            raise ApiError(422, "invalid_request", "give the experiment a name", "name")
        experiment = await commands.create_experiment(
            service_of(request), user_of(request), name, description
        )
    except Exception as exc:
        error = _error_of(exc)
        context = page_context(request, session)
        return _start_page(request, session, context, f"{error.field}: {error.message}", 422)
    return RedirectResponse(f"/dashboard/experiments/{experiment['id']}", 303)
