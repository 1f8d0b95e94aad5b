"""A job's results to download: JSON (exactly what `GET /jobs/{id}` answers) and CSV (the same
numbers, a row per value, with the parameter values of each set beside it)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response

from qorch.domain.errors import NotFound
from qorch.http import queries
from qorch.http.auth import user_of
from qorch.http.context import service_of
from qorch.http.dashboard.lab_text import observable_label
from qorch.http.dashboard.pages import Context, Missing, signed_in
from qorch.http.dashboard.reads import circuit_facts
from qorch.http.dashboard.session import Session
from qorch.http.errors import FastJSONResponse

Row = list[Any]


async def _job(request: Request, include_inputs: bool) -> dict[str, Any]:
    try:
        return await queries.job(
            service_of(request),
            user_of(request),
            request.path_params["job_id"],
            include_inputs=include_inputs,
        )
    except NotFound:
        raise Missing("job") from None


def _attachment(job_id: str, extension: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="job-{job_id}.{extension}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


@signed_in
async def results_json(request: Request, session: Session, context: Context) -> Response:
    job = await _job(request, include_inputs=False)
    response = await anyio.to_thread.run_sync(lambda: FastJSONResponse(job))
    response.headers.update(_attachment(job["id"], "json"))
    return response


@signed_in
async def results_csv(request: Request, session: Session, context: Context) -> Response:
    job = await _job(request, include_inputs=True)
    db = service_of(request).views.connection()
    facts = circuit_facts(db, session.user_id, job["circuit_ids"])
    names = [facts.get(cid, {}).get("parameters") or [] for cid in job["circuit_ids"]]
    text = await anyio.to_thread.run_sync(results_table, job, names)
    return Response(text, media_type="text/csv", headers=_attachment(job["id"], "csv"))


def _cell(value: Any) -> Any:
    return repr(value) if isinstance(value, float) else ("" if value is None else value)


def results_table(job: dict[str, Any], parameter_names: list[list[str]]) -> str:
    """The job's results as CSV text: expectation values, distributions or amplitudes."""
    columns: list[str] = list(dict.fromkeys(name for names in parameter_names for name in names))
    if job.get("has_observables"):
        head = ["circuit", "circuit_id", "observable", "observable_terms", "parameter_set"]
        tail = ["value", "standard_error", "error"]
        rows = _expectation_rows(job, parameter_names, columns)
    elif job.get("run_type") == "StatevectorRun":
        head, tail = ["circuit", "circuit_id", "parameter_set"], ["index", "re", "im", "error"]
        rows = _amplitude_rows(job, parameter_names, columns)
    else:
        head = ["circuit", "circuit_id", "parameter_set"]
        tail = ["outcome", "probability", "count", "standard_error", "error"]
        rows = _distribution_rows(job, parameter_names, columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(head + columns + tail)
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return out.getvalue()


def _sets(value: Any, has_parameters: bool) -> list[Any]:
    return list(value) if has_parameters else [value]


def _at(nested: Any, *path: int) -> Any:
    for index in path:
        if not isinstance(nested, list) or index >= len(nested):
            return None
        nested = nested[index]
    return nested


def _parameter_cells(
    job: dict[str, Any], names: list[list[str]], columns: list[str], i: int, j: int
) -> Row:
    values = _at(job.get("parameters"), i, j) if job.get("has_parameters") else None
    bound = dict(zip(names[i] if i < len(names) else [], values or [], strict=False))
    return [bound.get(column) for column in columns]


def _failure(job: dict[str, Any], *path: int) -> str:
    error = _at(job.get("errors"), *path)
    return str(error.get("code")) if isinstance(error, dict) else ""


def _expectation_rows(
    job: dict[str, Any], names: list[list[str]], columns: list[str]
) -> Iterator[Row]:
    has_sets = bool(job.get("has_parameters"))
    uncertainty = (job.get("info") or {}).get("uncertainty")
    for i, per_observable in enumerate(job.get("quantum_results") or []):
        observables = _at(job.get("observables"), i) or []
        for k, values in enumerate(per_observable):
            terms = observable_label(observables[k]) if k < len(observables) else ""
            errors = _at(uncertainty, i, k)
            for j, value in enumerate(_sets(values, has_sets)):
                error = _sets(errors, has_sets)[j] if errors is not None else None
                failure = _failure(job, i, k, j) if has_sets else _failure(job, i, k)
                yield [
                    i,
                    job["circuit_ids"][i],
                    k,
                    terms,
                    j if has_sets else None,
                    *_parameter_cells(job, names, columns, i, j),
                    value,
                    error,
                    failure,
                ]


def _distribution_rows(
    job: dict[str, Any], names: list[list[str]], columns: list[str]
) -> Iterator[Row]:
    has_sets = bool(job.get("has_parameters"))
    info = job.get("info") or {}
    for i, per_set in enumerate(job.get("quantum_results") or []):
        counts = _sets(_at(job.get("counts"), i), has_sets)
        errors = _sets(_at(info.get("uncertainty"), i), has_sets)
        for j, distribution in enumerate(_sets(per_set, has_sets)):
            lead = [i, job["circuit_ids"][i], j if has_sets else None]
            params = _parameter_cells(job, names, columns, i, j)
            failure = _failure(job, i, j) if has_sets else _failure(job, i)
            if failure:
                yield [*lead, *params, None, None, None, None, failure]
                continue
            set_counts = (counts[j] if j < len(counts) else None) or {}
            set_errors = (errors[j] if j < len(errors) else None) or {}
            for outcome in sorted(set(distribution) | set(set_counts)):
                yield [
                    *lead,
                    *params,
                    outcome,
                    distribution.get(outcome, 0.0),
                    set_counts.get(outcome, 0 if set_counts else None),
                    set_errors.get(outcome),
                    "",
                ]


def _amplitude_rows(
    job: dict[str, Any], names: list[list[str]], columns: list[str]
) -> Iterator[Row]:
    has_sets = bool(job.get("has_parameters"))
    for i, per_set in enumerate(job.get("quantum_results") or []):
        for j, state in enumerate(_sets(per_set, has_sets)):
            lead = [i, job["circuit_ids"][i], j if has_sets else None]
            params = _parameter_cells(job, names, columns, i, j)
            failure = _failure(job, i, j) if has_sets else _failure(job, i)
            re_list, im_list = (state or [[], []]) if isinstance(state, list) else ([], [])
            if failure or not re_list:
                yield [*lead, *params, None, None, None, failure]
                continue
            for index, (re, im) in enumerate(zip(re_list, im_list, strict=False)):
                yield [*lead, *params, index, re, im, ""]
