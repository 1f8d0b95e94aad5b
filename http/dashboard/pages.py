"""The dashboard's pages: each a read of the projections, rendered server-side."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qorch.domain.job import JobStatus
from qorch.http import commands, queries
from qorch.http.auth import session_of, user_of
from qorch.http.context import service_of
from qorch.http.dashboard.cookies import (
    clear_session_cookie,
    form_fields,
    form_lists,
    same_origin,
    sessions_of,
    set_session_cookie,
    to_sign_in,
)
from qorch.http.dashboard.drawing import DRAWINGS_AT_ONCE, DrawingLimits, drawing_for
from qorch.http.dashboard.rendering import render
from qorch.http.dashboard.session import Session
from qorch.http.errors import ApiError
from qorch.http.schemas import MAX_OFFSET
from qorch.projections import circuits, dashboard, experiments

PAGE_SIZE = 50
STATUSES = [status.value for status in JobStatus]


def page_context(request: Request, session: Session, **more: Any) -> dict[str, Any]:
    return {
        "session": session,
        "csrf_token": sessions_of(request).csrf_token(session),
        "live_after": service_of(request).projector.position,
        **more,
    }


MAX_PAGE_NUMBER = MAX_OFFSET // PAGE_SIZE


Context = dict[str, Any]
Page = Callable[[Request, Session, Context], Awaitable[Response]]


def signed_in(page: Page) -> Callable[[Request], Awaitable[Response]]:
    """A page for the signed-in user, given their session and the page context (its live
    position read before any rows); anyone else is sent to sign in."""

    @functools.wraps(page)
    async def handler(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_sign_in()
        try:
            return await page(request, session, page_context(request, session))
        except Missing as missing:
            return render(
                "not_found.html", 404, **page_context(request, session), kind=missing.kind
            )

    return handler


class Missing(Exception):
    """The page's object is not the signed-in user's (or does not exist): a 404 page."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def found(doc: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    if doc is None:
        raise Missing(kind)
    return doc


def _page_number(request: Request) -> int:
    """The page asked for: below 1 or not a number reads as 1; past the store's range is 422."""
    try:
        page = int(request.query_params.get("page", "1"))
    except ValueError:
        return 1
    if page > MAX_PAGE_NUMBER:
        raise ApiError(422, "invalid_request", f"must be at most {MAX_PAGE_NUMBER}", "page")
    return max(1, page)


def _page_url(path: str, params: dict[str, str], page: int) -> str:
    query = {key: value for key, value in params.items() if value}
    if page > 1:
        query["page"] = str(page)
    return path + ("?" + urlencode(query) if query else "")


async def home(request: Request) -> Response:
    target = "/dashboard/jobs" if session_of(request) else "/dashboard/sign-in"
    return RedirectResponse(target, status_code=303)


async def sign_in_form(request: Request) -> Response:
    if session_of(request):
        return RedirectResponse("/dashboard/jobs", status_code=303)
    return render("sign_in.html", session=None)


async def sign_in(request: Request) -> Response:
    if not same_origin(request):
        return render("sign_in.html", 403, session=None, error="Cross-site sign-in refused.")
    key = (await form_fields(request)).get("api_key", "").strip()
    user = await queries.user_with_key(service_of(request), key)
    if user is None:
        return render("sign_in.html", 401, session=None, error="That API key is not valid.")
    token = sessions_of(request).issue(str(user.id), user.name, key_generation=user.key_generation)
    response = RedirectResponse("/dashboard/jobs", status_code=303)
    set_session_cookie(request, response, token)
    return response


async def checked_form(request: Request) -> tuple[Session | None, dict[str, list[str]]]:
    """The session of a state-changing POST, None unless its origin and CSRF token check out;
    and the form's fields, every value of each."""
    session = session_of(request)
    fields = await form_lists(request)
    if session is None or not same_origin(request):
        return None, fields
    if not sessions_of(request).check_csrf(session, (fields.get("csrf_token") or [""])[0]):
        return None, fields
    return session, fields


def refused() -> Response:
    return Response("CSRF check failed", status_code=403)


FormPost = Callable[[Request, Session, dict[str, list[str]]], Awaitable[Response]]


def checked_post(post: FormPost) -> Callable[[Request], Awaitable[Response]]:
    """A form's POST, given the session and every value of each field once its origin and CSRF
    token check out; 403 otherwise."""

    @functools.wraps(post)
    async def handler(request: Request) -> Response:
        session, fields = await checked_form(request)
        if session is None:
            return refused()
        return await post(request, session, fields)

    return handler


async def sign_out(request: Request) -> Response:
    session, _ = await checked_form(request)
    if session is None:
        return refused()
    await commands.end_session(service_of(request), user_of(request), session.session_id)
    response = to_sign_in()
    clear_session_cookie(request, response)
    return response


@signed_in
async def jobs_page(request: Request, session: Session, context: Context) -> Response:
    params = request.query_params
    filters = {
        "status": params.get("status", "") if params.get("status") in STATUSES else "",
        "device": params.get("device", "")[:200],
        "experiment": params.get("experiment", "")[:64],
    }
    page = _page_number(request)
    db = service_of(request).views.connection()
    rows = dashboard.jobs_page(
        db,
        session.user_id,
        status=filters["status"] or None,
        device_id=filters["device"] or None,
        experiment_id=filters["experiment"] or None,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        "jobs.html",
        **context,
        jobs=rows[:PAGE_SIZE],
        filters=filters,
        filtered=any(filters.values()),
        live_insert=page == 1,
        statuses=STATUSES,
        devices=dashboard.device_ids(db, session.user_id),
        experiments=dashboard.experiment_names(db, session.user_id),
        page=page,
        prev_url=_page_url("/dashboard/jobs", filters, page - 1) if page > 1 else None,
        next_url=(
            _page_url("/dashboard/jobs", filters, page + 1) if len(rows) > PAGE_SIZE else None
        ),
    )


def _drawing_limits(request: Request) -> tuple[DrawingLimits, anyio.CapacityLimiter]:
    """The settings' drawing limits, and this app's limiter of drawings made at once."""
    state = request.app.state
    if getattr(state, "drawing_limits", None) is None:
        settings = service_of(request).settings
        state.drawing_limits = DrawingLimits(
            max_qubits=settings.draw_max_qubits,
            max_operations=settings.draw_max_gates,
            timeout=settings.draw_timeout,
        )
        state.drawing_limiter = anyio.CapacityLimiter(DRAWINGS_AT_ONCE)
    return state.drawing_limits, state.drawing_limiter


@signed_in
async def circuit_page(request: Request, session: Session, context: Context) -> Response:
    circuit_id = request.path_params["circuit_id"]
    db = service_of(request).views.connection()
    circuit = found(circuits.get_circuit(db, session.user_id, circuit_id), "circuit")
    drawing = await drawing_for(circuit, *_drawing_limits(request))
    experiment = experiments.get_experiment(db, session.user_id, circuit["experiment_id"])
    return render(
        "circuit.html",
        **context,
        circuit=circuit,
        drawing=drawing,
        experiment_name=experiment["name"] if experiment else None,
        jobs=dashboard.jobs_of_circuit(db, session.user_id, circuit_id),
        experiments=dashboard.experiment_names(db, session.user_id),
        filters={},
        live_insert=False,
    )


@signed_in
async def experiments_page(request: Request, session: Session, context: Context) -> Response:
    page = _page_number(request)
    rows = experiments.list_experiments(
        service_of(request).views.connection(),
        session.user_id,
        PAGE_SIZE + 1,
        (page - 1) * PAGE_SIZE,
    )
    return render(
        "experiments.html",
        **context,
        experiments_list=rows[:PAGE_SIZE],
        page=page,
        prev_url=_page_url("/dashboard/experiments", {}, page - 1) if page > 1 else None,
        next_url=(
            _page_url("/dashboard/experiments", {}, page + 1) if len(rows) > PAGE_SIZE else None
        ),
    )
