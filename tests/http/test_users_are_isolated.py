"""Two users: neither can read, list or run the other's objects (404, never 403)."""

from __future__ import annotations

from tests.conftest import BELL_QASM2, Account


def test_a_missing_or_wrong_key_is_refused(alice: Account):
    for headers in ({}, {"Authorization": "qk_wrong"}, {"Authorization": "Bearer qk_wrong"}):
        answer = alice.client.get("/experiments", headers=headers)
        assert answer.status_code == 401
        assert "API key" in answer.json()["error"]["message"]


def test_key_accepted_as_bearer_and_as_query_parameter(alice: Account):
    as_bearer = alice.client.get("/experiments", headers={"Authorization": f"Bearer {alice.key}"})
    as_query = alice.client.get("/experiments", params={"HAIQU_API_KEY": alice.key})
    assert as_bearer.status_code == as_query.status_code == 200
    assert as_bearer.json() == as_query.json()


def test_users_see_only_their_own_objects(alice: Account, bob: Account):
    job = alice.wait_for(alice.run(circuits_qasm=[BELL_QASM2], shots=100)["id"])
    [circuit_id] = job["circuit_ids"]

    assert bob.get(f"/jobs/{job['id']}").status_code == 404
    assert bob.post("/ai/get_job_results_and_status", {"job_id": job["id"]}).status_code == 404
    assert bob.get(f"/circuits/{circuit_id}").status_code == 404
    assert bob.get(f"/experiments/{alice.experiment_id}").status_code == 404
    assert bob.get(f"/experiments/{alice.experiment_id}/circuits").status_code == 404
    assert bob.post(f"/jobs/{job['id']}/cancel", {}).status_code == 404
    assert job["id"] not in [j["id"] for j in bob.get("/jobs").json()["jobs"]]
    assert alice.experiment_id not in [
        e["id"] for e in bob.get("/experiments").json()["experiments"]
    ]

    run_alices_circuit = bob.client.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        json={"experiment_id": bob.experiment_id, "circuit_ids": [circuit_id]},
        headers=bob.headers,
    )
    assert run_alices_circuit.status_code == 422
    assert run_alices_circuit.json()["error"]["field"] == "circuit_ids[0]"

    in_alices_experiment = bob.client.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        json={"experiment_id": alice.experiment_id, "circuits_qasm": [BELL_QASM2]},
        headers=bob.headers,
    )
    assert in_alices_experiment.status_code == 422
    assert in_alices_experiment.json()["error"]["field"] == "experiment_id"

    assert alice.get(f"/jobs/{job['id']}").status_code == 200
