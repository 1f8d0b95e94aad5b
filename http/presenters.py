"""Turns read-model documents into wire answers, with a short text for agents."""

from __future__ import annotations

import json
from typing import Any

MAX_CONTEXT_RESULTS = 600


def present_job(doc: dict[str, Any], results: dict[str, Any] | None) -> dict[str, Any]:
    job = dict(doc)
    job["quantum_results"] = results.get("quantum_results") if results else None
    job["counts"] = results.get("counts") if results else None
    job["info"] = (
        {
            "uncertainty": results.get("uncertainty"),
            "probabilities": results.get("probabilities"),
            "transpiled": results.get("transpiled"),
            "metadata": results.get("metadata"),
        }
        if results
        else None
    )
    return job


def nesting_of(job: dict[str, Any]) -> str:
    levels = ["circuit"]
    if job.get("observables") is not None:
        levels.append("observable")
    if job.get("parameters") is not None:
        levels.append("parameter set")
    if job.get("observables") is not None:
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
    head = f"Job {job['id']} on {job['device_id']} is {job['status']}."
    if job["status"] == "Error" and job.get("error"):
        return f"{head} Error {job['error']['code']}: {job['error']['message']}"
    if job["status"] == "Done" and job.get("dry_run") and job.get("estimated_qpu_cost"):
        cost = job["estimated_qpu_cost"]
        return (
            f"{head} Dry run estimate: {cost['native']['amount']:.6g} s of QPU time, "
            f"{cost['converted']['amount']:.6g} USD. Nothing was executed."
        )
    if job["status"] == "Done":
        shown = json.dumps(job.get("quantum_results"))
        if len(shown) > MAX_CONTEXT_RESULTS:
            shown = shown[:MAX_CONTEXT_RESULTS] + " … (truncated; the full results are in job)"
        return f"{head} quantum_results nests {nesting_of(job)}: {shown}"
    return f"{head} Not final yet: call again, with wait=30 to wait for completion."
