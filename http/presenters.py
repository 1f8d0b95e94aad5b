"""Turns read-model documents into wire answers, with a short text for agents."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic_core import from_json, to_json

from qorch.http.costs import cost_context

MAX_CONTEXT_RESULTS = 600
JOB_FIELDS = ("quantum_results", "counts", "errors")
INFO_FIELDS = ("uncertainty", "probabilities", "transpiled", "metadata")
"""Where a job's answer shows each field of its recorded results."""


def present_job(doc: dict[str, Any], results: dict[str, Any] | None) -> dict[str, Any]:
    job = _head(doc)
    for field in JOB_FIELDS:
        job[field] = results.get(field) if results else None
    job["info"] = {field: results.get(field) for field in INFO_FIELDS} if results else None
    return job


def _head(doc: dict[str, Any]) -> dict[str, Any]:
    job = dict(doc)
    # Documents projected before partial results existed lack these two.
    job.setdefault("partial", False)
    job.setdefault("failed_executions", 0)
    return job


def job_json(doc: dict[str, Any], results: bytes | None) -> bytes:
    """`present_job(doc, parsed results)` encoded as JSON (the same bytes), made from the
    results' recorded JSON text: their bulky values (a sweep's distributions can be tens of
    MB) are copied as recorded, never parsed and encoded again."""
    head = _head(doc)
    split = split_results(results) if results else None
    if split is None or head.keys() & {*JOB_FIELDS, "info"}:
        return to_json(present_job(doc, from_json(results) if results else None))
    bulky, small = split
    parts: list[bytes | memoryview] = [to_json(head)[:-1]]
    for separator, name in SPLICED:
        parts += [separator, bulky[name] if name in bulky else to_json(small.get(name))]
    parts.append(b"}}")
    return b"".join(parts)


SPLICED = [(b',"%s":' % name.encode(), name) for name in JOB_FIELDS]
SPLICED += [(b',"info":{"%s":' % INFO_FIELDS[0].encode(), INFO_FIELDS[0])]
SPLICED += [(b',"%s":' % name.encode(), name) for name in INFO_FIELDS[1:]]
"""Where each field of the results goes in the answer, after the job document's own fields."""


BULKY_START = b'{"quantum_results":'
BULKY = {"quantum_results", "counts", "probabilities", "uncertainty"}
NEXT_NAME = re.compile(rb',"(?![0-9])')
"""Where a string that is not a bitstring follows a value."""
KEY = re.compile(rb',"([A-Za-z_]+)":')
WHITESPACE = (b" ", b"\n", b"\t", b"\r")


def split_results(text: bytes) -> tuple[dict[str, memoryview], dict[str, Any]] | None:
    """The recorded results (domain/results.py: `quantum_results`, then as there are `counts`,
    `probabilities` and `uncertainty`, then the small `errors`, `transpiled` and `metadata`)
    as the JSON text of each bulky value, and the small ones parsed; None for a text not laid
    out so. A bulky value holds numbers, lists, and dicts keyed by bitstrings, written without
    spaces: the first string after a comma that is not a bitstring must be the next field's
    name, and the value before it must close every bracket it opened (a cut inside it would
    not). Anything else is left to the caller to parse."""
    if not text.startswith(BULKY_START) or not text.endswith(b"}"):
        return None
    bulky: dict[str, memoryview] = {}
    view = memoryview(text)
    name, start = "quantum_results", len(BULKY_START)
    while True:
        found = NEXT_NAME.search(text, start)
        end = found.start() if found is not None else len(text) - 1
        if any(text.find(space, start, end) >= 0 for space in WHITESPACE):
            return None  # a layout with spaces could hide a field's name from NEXT_NAME
        for opened, closed in (b"[", b"]"), (b"{", b"}"):
            if text.count(opened, start, end) != text.count(closed, start, end):
                return None
        bulky[name] = view[start:end]
        key = KEY.match(text, end) if found is not None else None
        if found is not None and key is None:
            return None  # a string value, or an odd key
        if key is None or key.group(1).decode() not in BULKY:
            break
        name, start = key.group(1).decode(), key.end()
    try:
        small = from_json(b"{" + text[end + 1 :]) if key is not None else {}
    except ValueError:
        return None
    if not isinstance(small, dict) or small.keys() & bulky.keys():
        return None
    return bulky, small


def nesting_of(job: dict[str, Any]) -> str:
    levels = ["circuit"]
    if job.get("has_observables"):
        levels.append("observable")
    if job.get("has_parameters"):
        levels.append("parameter set")
    if job.get("has_observables"):
        leaf = "expectation value"
    elif job.get("run_type") == "StatevectorRun":
        leaf = "statevector [re, im]"
    else:
        leaf = "probability dict (Qiskit bit order)"
    return " → ".join(levels) + f" → {leaf}"


def submitted_context(job: dict[str, Any]) -> str:
    circuits = len(job["circuit_ids"])
    kind = "dry run" if job["dry_run"] else f"{job['run_type']}, {job['shots']} shots"
    return (
        f"Job {job['id']} accepted: {circuits} circuit(s) on {job['device_id']} ({kind}). "
        f"Status: {job['status']}. Get status and results with get_job_results_and_status "
        f"(job_id={job['id']!r}, wait=30 to wait up to 30 s for completion)."
    )


def status_context(job: dict[str, Any]) -> str:
    head = f"Job {job['id']} on {job['device_id']} is {job['status']}.{cost_context(job)}"
    if job["status"] == "Error" and job.get("error"):
        error = job["error"]
        code = error.get("provider_code")
        provider = f" (provider code {code})" if code else ""
        again = " Retrying later may succeed." if error.get("retryable") else ""
        return f"{head} Error {error['code']}{provider}: {error['message']}.{again}"
    if job["status"] == "Done" and job.get("dry_run") and job.get("estimated_qpu_cost"):
        cost = job["estimated_qpu_cost"]
        return (
            f"{head} Dry run estimate: {cost['native']['amount']:.6g} s of QPU time, "
            f"{cost['converted']['amount']:.6g} USD"
            + (
                f" (price table {cost['breakdown']['price_table_version']})"
                if cost.get("breakdown", {}).get("price_table_version")
                else ""
            )
            + ". Nothing was executed."
        )
    if job["status"] == "Cancelled":
        return f"{head} It is final: no results will be recorded."
    if job["status"] == "Done":
        shown = json.dumps(job.get("quantum_results"))
        if len(shown) > MAX_CONTEXT_RESULTS:
            shown = shown[:MAX_CONTEXT_RESULTS] + " … (truncated; the full results are in job)"
        return f"{head}{partial_context(job)} quantum_results nests {nesting_of(job)}: {shown}"
    at = job.get("provider_job")
    where = f" It is at {at['provider']} as {', '.join(at['ids'])}." if at else ""
    return f"{head}{where} Not final yet: call again, with wait=30 to wait for completion."


def partial_context(job: dict[str, Any]) -> str:
    """What failed in a job that kept its other results; empty for any other job."""
    if not job.get("partial"):
        return ""
    text = (
        f" Partial results: {job.get('failed_executions', 0)} execution(s) (a circuit with "
        "one parameter set) failed; the others' results are in place. job.errors nests like "
        "quantum_results: null where the execution ran, {code, message} where it failed (its "
        "result there is {} or null)."
    )
    first = first_error(job.get("errors"))
    if first is not None:
        where, error = first
        text += f" First failure at errors{where}: {error.get('code')}: {error.get('message')}."
    return text


def first_error(errors: Any, where: str = "") -> tuple[str, dict[str, Any]] | None:
    """The first failure in nested `errors` and its index path, e.g. ("[1][0]", {...})."""
    if isinstance(errors, dict):
        return where, errors
    if isinstance(errors, list):
        for index, inner in enumerate(errors):
            found = first_error(inner, f"{where}[{index}]")
            if found is not None:
                return found
    return None


PER_CIRCUIT = ("quantum_results", "counts", "errors")
PER_CIRCUIT_INFO = ("uncertainty", "probabilities", "transpiled")


def page_results(job: dict[str, Any], offset: int, limit: int | None) -> dict[str, Any]:
    """The job with only circuits [offset, offset + limit) in its per-circuit results.

    Adds `results_page` saying which circuits are shown, and where the next page starts.
    """
    paged = dict(job)
    total = len(job["circuit_ids"])
    end = total if limit is None else min(total, offset + limit)
    for key in PER_CIRCUIT:
        if isinstance(job.get(key), list):
            paged[key] = job[key][offset:end]
    if isinstance(job.get("info"), dict):
        info = dict(job["info"])
        for key in PER_CIRCUIT_INFO:
            if isinstance(info.get(key), list):
                info[key] = info[key][offset:end]
        paged["info"] = info
    start = min(offset, total)
    paged["results_page"] = {
        "circuit_offset": start,
        "circuits_returned": max(0, end - start),
        "circuits_total": total,
        "next_circuit_offset": end if end < total else None,
    }
    return paged


def devices_context(devices: list[dict[str, Any]]) -> str:
    simulators = sum(1 for device in devices if device["simulator"])
    return (
        f"{len(devices)} devices ({simulators} simulators). Pass an id as device_id to "
        "run_circuits_on_qpu_or_simulator; a circuit must not have more qubits than its device."
    )


def analytics_context(circuit: dict[str, Any]) -> str:
    metrics = ", ".join(f"{key}={value}" for key, value in circuit["metrics"].items())
    return f"Circuit {circuit['id']} stored in experiment {circuit['experiment_id']}: {metrics}."
