"""A new circuit from pasted (or uploaded: the browser reads the file into the text box)
OpenQASM, stored with the same command as `POST /ai/submit_circuit_for_analytics`. A text the
parser refuses comes back with its message and the line it names, marked in the source."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qorch.http import commands
from qorch.http.auth import user_of
from qorch.http.context import service_of
from qorch.http.dashboard.pages import Context, checked_post, found, page_context, signed_in
from qorch.http.dashboard.rendering import render
from qorch.http.dashboard.session import Session
from qorch.http.errors import as_api_error
from qorch.projections import experiments

WHERE = re.compile(r"^(?:[\w\[\].]+: )?line (\d+)(?:, column (\d+))?: ")
CONTEXT_LINES = 2


def excerpt(source: str, line: int, column: int | None) -> list[dict[str, Any]]:
    """The lines around `line` (1-based), the one named marked, with a caret at `column`."""
    lines = source.splitlines()
    first, last = max(1, line - CONTEXT_LINES), min(len(lines), line + CONTEXT_LINES)
    return [
        {
            "number": n,
            "text": lines[n - 1],
            "marked": n == line,
            "caret": " " * (column - 1) + "^" if n == line and column else "",
        }
        for n in range(first, last + 1)
    ]


def _page(
    request: Request,
    context: Context,
    experiment: dict[str, Any],
    status: int = 200,
    **more: Any,
) -> Response:
    return render("lab_circuit.html", status, **context, experiment=experiment, **more)


@signed_in
async def new_circuit_page(request: Request, session: Session, context: Context) -> Response:
    db = service_of(request).views.connection()
    experiment_id = request.query_params.get("experiment", "")
    experiment = found(experiments.get_experiment(db, session.user_id, experiment_id), "experiment")
    return _page(request, context, experiment, qasm="", circuit_name="")


@checked_post
async def store_circuit(
    request: Request, session: Session, fields: dict[str, list[str]]
) -> Response:
    context = page_context(request, session)
    experiment_id = (fields.get("experiment_id") or [""])[0]
    qasm, name = (fields.get("qasm") or [""])[0], (fields.get("name") or [""])[0]
    db = service_of(request).views.connection()
    experiment = experiments.get_experiment(db, session.user_id, experiment_id)
    if experiment is None:
        return render("not_found.html", 404, **context, kind="experiment")
    if not qasm.strip():
        message = "paste an OpenQASM 2.0 or 3.0 program, or choose a file"
        return _page(request, context, experiment, 422, qasm=qasm, circuit_name=name, error=message)
    try:
        circuit = await commands.store_circuit(
            service_of(request), user_of(request), experiment_id, qasm, name
        )
    except Exception as exc:
        error = as_api_error(exc)
        if error is None:
            raise
        where = WHERE.match(error.message)
        lines = excerpt(qasm, int(where[1]), int(where[2]) if where[2] else None) if where else []
        return _page(
            request,
            context,
            experiment,
            error.status,
            qasm=qasm,
            circuit_name=name,
            error=error.message,
            error_line=int(where[1]) if where else None,
            excerpt=lines,
        )
    return RedirectResponse(f"/dashboard/circuits/{circuit['id']}", 303)
