"""A haiqu-sdk 1.7.0 user points the unmodified client at a self-hosted qorch (HAIQU_EDGE_URI,
HAIQU_API_KEY) and their script runs unchanged. The SDK runs in its own virtual environment;
one script (sdk_story.py) drives the whole story, each test checks one chapter of it."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.e2e.servers import Server

SQRT_HALF = math.sqrt(0.5)


def near(value: float, expected: float, shots: int, p: float = 0.5) -> bool:
    return abs(value - expected) < 5 * math.sqrt(p * (1 - p) / shots) + 1e-12


def near_expectation(value: float, expected: float, shots: int) -> bool:
    """Expectation values carry a standard error of 1/sqrt(shots) (Aer EstimatorV2 precision)."""
    return abs(value - expected) < 5 / math.sqrt(shots)


def test_login_init_and_devices(story: dict[str, Any]):
    assert "local" in story["user"]
    assert isinstance(story["experiment"]["user_id"], int)
    assert "aer_simulator" in story["simulators"]
    # list_devices shows the QPUs of every provider; the simulators are listed apart.
    assert {"ibm_brisbane", "braket_ionq_forte", "ionq_aria_1"} <= set(story["devices"])
    assert not {"aer_simulator", "braket_sv", "ionq_simulator"} & set(story["devices"])
    assert {"braket_sv", "ionq_simulator"} <= set(story["simulators"])
    assert story["device"] == {"id": "aer_simulator", "qubits": 26, "simulator": True}


def test_bell_circuit_runs_to_probabilities_near_one_half(story: dict[str, Any]):
    bell = story["bell"]
    assert (bell["type"], bell["job_type"], bell["status"]) == ("HybridJobModel", "Hybrid", "Done")
    [distribution] = bell["result"]
    assert set(distribution) <= {"00", "11"}
    assert near(distribution["00"], 0.5, 4000) and near(distribution["11"], 0.5, 4000)
    assert set(bell["info"]["uncertainty"][0]) == set(distribution)
    assert bell["user_id"] == story["experiment"]["user_id"]  # one stable int per user


def test_rerunning_the_same_circuit_reuses_the_stored_circuit(story: dict[str, Any]):
    assert story["bell_rerun"]["id"] != story["bell"]["id"]
    assert story["bell_rerun"]["circuit_ids"] == story["bell"]["circuit_ids"]
    assert story["list_circuits"].count(story["bell"]["circuit_ids"][0]) == 1


def test_observables_give_expectation_values_per_circuit(story: dict[str, Any]):
    [[zz, xx, zi]] = story["observables"]["result"]
    assert near_expectation(zz, 1.0, 4000) and near_expectation(xx, 1.0, 4000)
    assert near_expectation(zi, 0.0, 4000)
    assert len(story["observables"]["info"]["uncertainty"][0]) == 3


def test_parameter_sweep_nests_circuit_observable_parameter_set(story: dict[str, Any]):
    first, second = story["sweep"]["result"]
    assert [len(row) for row in first] == [3, 3] and [len(row) for row in second] == [2]
    zz, iz = first  # ry(theta) then cx: ZZ is 1, IZ is cos(theta)
    assert all(near_expectation(v, 1.0, 4000) for v in zz)
    expected = [1.0, 0.0, -1.0]
    assert [near_expectation(v, e, 4000) for v, e in zip(iz, expected, strict=True)] == [True] * 3
    [iz2] = second
    assert near_expectation(iz2[0], 1.0, 4000) and near_expectation(iz2[1], -1.0, 4000)


def test_dry_run_returns_a_cost_and_executes_nothing(story: dict[str, Any]):
    dry = story["dry_run"]
    assert dry["status"] == "Done" and dry["quantum_results"] == []
    assert dry["cost"]["native"]["unit"] == "s" and dry["cost"]["native"]["amount"] > 0
    assert dry["cost"]["converted"]["unit"] == "USD"


@pytest.mark.parametrize("chapter", ["statevector", "legacy_statevector"])
def test_statevector_runs_return_exact_amplitudes(story: dict[str, Any], chapter: str):
    states = story[chapter]["states"]
    bell = [[SQRT_HALF, 0.0], [0.0, 0.0], [0.0, 0.0], [SQRT_HALF, 0.0]]
    phased = [[SQRT_HALF, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, SQRT_HALF]]
    expected = [bell, phased] if chapter == "statevector" else [bell]
    assert len(states) == len(expected)
    for state, want in zip(states, expected, strict=True):
        for (re, im), (want_re, want_im) in zip(state, want, strict=True):
            assert abs(re - want_re) < 1e-9 and abs(im - want_im) < 1e-9


def test_get_job_list_jobs_list_circuits_get_circuit(story: dict[str, Any]):
    assert story["get_job"]["id"] == story["bell"]["id"]
    assert story["get_job"]["type"] == "HybridJobModel"
    for chapter in ("bell", "bell_rerun", "observables", "sweep", "dry_run", "statevector"):
        assert story[chapter]["id"] in story["list_jobs"]
    assert story["get_circuit"]["id"] == story["bell"]["circuit_ids"][0]
    assert story["get_circuit"]["status"] == "Done"
    assert story["get_circuit"]["hash"].isdigit()  # the client's own hash, echoed


def test_legacy_run_answers_a_run_job(story: dict[str, Any]):
    legacy = story["legacy_run"]
    assert (legacy["type"], legacy["job_type"], legacy["status"]) == ("RunJobModel", "Run", "Done")
    [distribution] = legacy["result"]
    assert near(distribution["00"], 0.5, 2000)


def test_sdk_jobs_and_agent_jobs_are_one_set_of_jobs(
    story: dict[str, Any], qorch_server: Server, qorch_job: dict[str, Any]
):
    # an SDK job, read through qorch's own surfaces
    bell = story["bell"]
    rest = qorch_server.call("GET", f"/jobs/{bell['id']}").json()
    agent = qorch_server.call(
        "POST", "/ai/get_job_results_and_status", json={"job_id": bell["id"]}
    ).json()["job"]
    assert rest["quantum_results"] == agent["quantum_results"] == bell["result"]
    assert isinstance(rest["user_id"], str)  # qorch's own shape without the SDK header
    # an agent job, read through the SDK
    seen = story["qorch_job"]
    assert (seen["status"], seen["job_type"]) == ("Done", "Run")
    assert seen["result"] == qorch_job["quantum_results"]


def test_cancel_of_a_queued_job(cancel_story: dict[str, Any]):
    assert cancel_story["before"] == "Queued"
    assert cancel_story["cancelled"] is True
    assert cancel_story["after"] == "Cancelled"
