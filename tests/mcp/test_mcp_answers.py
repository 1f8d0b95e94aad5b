"""How a large job is cut into answers an agent can take in (pure functions, no server)."""

from __future__ import annotations

from typing import Any

from qorch.http.mcp_answers import MAX_ANSWER_CHARS, fit_job, job_summary, size


def job_with(distributions: list[dict[str, float]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "j1",
        "device_id": "aer_simulator",
        "status": "Done",
        "run_type": "Run",
        "dry_run": False,
        "circuit_ids": [f"c{i}" for i in range(len(distributions))],
        "parameters": None,
        "observables": None,
        "quantum_results": distributions,
        "counts": [{k: int(v * 1000) for k, v in d.items()} for d in distributions],
        "info": {"uncertainty": None, "probabilities": None, "transpiled": None, "metadata": {}},
        **extra,
    }


def spread(outcomes: int) -> dict[str, float]:
    return {format(i, "016b"): 1 / outcomes for i in range(outcomes)}


def test_a_small_job_is_answered_whole():
    job = job_with([spread(4)])
    assert fit_job(job) is job
    assert "results_page" not in fit_job(job)


def test_pages_skip_a_circuit_too_large_for_any_answer():
    job = job_with([spread(16), spread(4000), spread(16)])
    first = fit_job(job)
    assert size(first) <= MAX_ANSWER_CHARS
    assert first["quantum_results"] == [spread(16)]
    assert first["results_page"]["next_circuit_offset"] == 1

    huge = fit_job(job, offset=1)
    assert huge["quantum_results"] == [] and huge["results_page"]["circuits_returned"] == 0
    assert huge["omitted"] == ["results of circuit 1 (too large for one answer)"]
    assert huge["results_page"]["next_circuit_offset"] == 2
    text = job_summary(huge)
    assert "circuit_offset=2" in text and "job://j1" in text

    last = fit_job(job, offset=2)
    assert last["quantum_results"] == [spread(16)]
    assert last["results_page"]["next_circuit_offset"] is None


def test_a_huge_request_echo_is_left_out_before_results():
    sweep = [[[0.123456789] * 10] * 400]
    job = job_with([spread(8)], parameters=sweep)
    answer = fit_job(job)
    assert size(answer) <= MAX_ANSWER_CHARS
    assert answer["parameters"] is None and answer["quantum_results"] == [spread(8)]
    assert answer["omitted"][0].startswith("parameters (")
