"""Tool answers small enough for an agent's context: large results are paged by circuit, and
what cannot fit is left out with a pointer to where the rest is (`job://{id}`, GET /jobs/{id})."""

from __future__ import annotations

import json
from typing import Any

from qorch.http.presenters import PER_CIRCUIT, PER_CIRCUIT_INFO, page_results, status_context

MAX_ANSWER_CHARS = 20_000
"""Cap on the JSON of one tool answer (structured content); the text summary is far shorter."""
OMITTABLE = ("parameters", "observables")
OMITTABLE_INFO = ("transpiled", "metadata")


def size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str))


def fit_job(job: dict[str, Any], offset: int = 0, limit: int | None = None) -> dict[str, Any]:
    """The job with as many circuits' results, from `offset`, as fit in MAX_ANSWER_CHARS.

    Answers carry `results_page` whenever they do not hold every circuit's results, and
    `omitted` naming any field left out; both say how to fetch the rest.
    """
    total = len(job["circuit_ids"])
    wanted = total - min(offset, total) if limit is None else limit
    whole = page_results(job, offset, wanted) if (offset or limit is not None) else job
    if size(whole) <= MAX_ANSWER_CHARS:
        return whole
    base = _shrunk_request(page_results(job, offset, 0))
    room = MAX_ANSWER_CHARS - size(base)
    fitting = 0
    for index in range(offset, min(total, offset + wanted)):
        room -= _circuit_size(job, index)
        if room < 0:
            break
        fitting += 1
    paged = page_results(job, offset, fitting)
    paged.update({key: base[key] for key in OMITTABLE if key in base})
    paged["omitted"] = list(base.get("omitted", []))
    if isinstance(paged.get("info"), dict):
        paged["info"] = {**paged["info"], **{k: base["info"][k] for k in OMITTABLE_INFO}}
    if fitting == 0 and offset < total:
        paged["omitted"].append(f"results of circuit {offset} (too large for one answer)")
        following = offset + 1
        paged["results_page"]["next_circuit_offset"] = following if following < total else None
    return paged


def job_summary(job: dict[str, Any]) -> str:
    """The short text: status (and results) from the presenters, plus how to get the rest."""
    text = status_context(job)
    page = job.get("results_page")
    if page and page["circuits_returned"] < page["circuits_total"]:
        first, count = page["circuit_offset"], page["circuits_returned"]
        shown = f"circuits {first}..{first + count - 1}" if count else "no circuit"
        text += f" This answer holds the results of {shown} of {page['circuits_total']}."
        if page["next_circuit_offset"] is not None:
            text += f" Call again with circuit_offset={page['next_circuit_offset']} for more."
    if job.get("omitted"):
        text += (
            f" Left out to keep this answer small: {', '.join(job['omitted'])}; the resource "
            f"job://{job['id']} (or GET /jobs/{job['id']}) holds the complete job."
        )
    return text


def fit_rows(rows: list[dict[str, Any]], offset: int) -> tuple[list[dict[str, Any]], str]:
    """As many rows as fit, and a note on how to page on when some were cut."""
    kept: list[dict[str, Any]] = []
    room = MAX_ANSWER_CHARS
    for row in rows:
        room -= size(row) + 1
        if room < 0:
            break
        kept.append(row)
    if len(kept) < len(rows):
        return (
            kept,
            f" Answer cut at {len(kept)} rows: call again with offset={offset + len(kept)}.",
        )
    return kept, ""


def _circuit_size(job: dict[str, Any], index: int) -> int:
    parts = [job[key][index] for key in PER_CIRCUIT if _has(job.get(key), index)]
    info = job.get("info") or {}
    parts += [info[key][index] for key in PER_CIRCUIT_INFO if _has(info.get(key), index)]
    return sum(size(part) + 1 for part in parts)


def _has(values: Any, index: int) -> bool:
    return isinstance(values, list) and index < len(values)


def _shrunk_request(base: dict[str, Any]) -> dict[str, Any]:
    """Leaves out the request's echo (parameters, observables) and bulky info when they alone
    would take more than half an answer."""
    base = dict(base)
    base["info"] = dict(base["info"]) if isinstance(base.get("info"), dict) else None
    omitted: list[str] = []
    for key in OMITTABLE:
        if size(base) > MAX_ANSWER_CHARS // 2 and base.get(key) is not None:
            omitted.append(f"{key} ({size(base[key])} chars)")
            base[key] = None
    info = base["info"]
    if info is not None:
        for key in OMITTABLE_INFO:
            if size(base) > MAX_ANSWER_CHARS // 2 and info.get(key) is not None:
                omitted.append(f"info.{key}")
                info[key] = None
    else:
        base["info"] = dict.fromkeys(OMITTABLE_INFO)
    base["omitted"] = omitted
    return base
