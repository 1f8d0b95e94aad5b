"""A user lists what can run, and reads the API's OpenAPI document."""

from __future__ import annotations

from tests.conftest import BELL_QASM2, Account


def test_local_simulators_are_listed_with_their_shape(alice: Account):
    answer = alice.get("/ai/list_qpus_and_simulators")
    assert answer.status_code == 200
    body = answer.json()
    devices = {device["id"]: device for device in body["devices"]}
    for method in ("", "_statevector", "_matrix_product_state", "_density_matrix", "_stabilizer"):
        device = devices[f"aer_simulator{method}"]
        assert device["simulator"] is True
        assert device["status"] == "online"
        assert device["qubits"] > 0
        assert "cx" in device["basis_gates"]
    manila = devices["fake_manila"]
    assert manila["qubits"] == 5 and manila["noisy"] is True
    assert [0, 1] in manila["coupling_map"]
    assert "devices" in body["context"]


def test_provider_devices_are_listed_without_credentials(alice: Account):
    devices = {d["id"]: d for d in alice.get("/ai/list_qpus_and_simulators").json()["devices"]}
    by_provider = {
        provider: {d["id"] for d in devices.values() if d["provider"] == provider}
        for provider in ("ibm", "braket", "ionq")
    }
    assert {"ibm_brisbane", "ibm_torino", "runtime_fake_manila"} <= by_provider["ibm"]
    assert {"braket_sv", "braket_dm", "braket_ionq_forte", "braket_sv1"} <= by_provider["braket"]
    assert {"ionq_simulator", "ionq_aria_1", "ionq_forte_1"} <= by_provider["ionq"]
    forte = devices["braket_ionq_forte"]
    assert forte["simulator"] is False and forte["remote"] is True and forte["qubits"] == 36
    assert forte["credentials"] == ["aws_access_key_id", "aws_secret_access_key"]
    assert devices["braket_sv"]["remote"] is False and devices["braket_sv"]["credentials"] == []
    assert devices["ionq_simulator"]["simulator"] is True
    assert "live" not in forte  # live status needs credentials


def test_openapi_document_describes_the_run_request(alice: Account):
    document = alice.client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    run = document["paths"]["/ai/run_circuits_on_qpu_or_simulator"]["post"]
    assert run["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "RunCircuitsRequest"
    )
    fields = document["components"]["schemas"]["RunCircuitsRequest"]["properties"]
    assert {"experiment_id", "circuit_ids", "circuits_qasm", "shots", "run_type"} <= set(fields)
    assert "/jobs/{job_id}" in document["paths"]


def test_long_poll_returns_as_soon_as_the_job_is_final(alice: Account):
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=10)
    answer = alice.get(f"/jobs/{job['id']}", wait=60)
    assert answer.json()["status"] == "Done"
    assert answer.elapsed.total_seconds() < 30


def test_wait_must_be_a_number(alice: Account):
    answer = alice.get("/jobs/x", wait="soon")
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "wait"


def test_inputs_are_returned_only_when_asked_for(alice: Account):
    circuit = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit[1] q;\nbit[1] c;\n'
        "rx(theta) q[0];\nc[0] = measure q[0];\n"
    )
    job = alice.run(circuits_qasm=[circuit], parameters=[[0.5], [1]], shots=10)
    assert "parameters" not in job and job["has_parameters"] is True
    light = alice.wait_for(job["id"])
    assert "parameters" not in light
    full = alice.get(f"/jobs/{job['id']}", include_inputs="true").json()
    assert full["parameters"] == [[[0.5], [1.0]]]
    assert full["observables"] is None


def test_the_key_may_come_as_a_query_parameter_on_the_agent_status_endpoint(alice: Account):
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=10)
    answer = alice.client.get(
        "/ai/get_job_results_and_status",
        params={"job_id": job["id"], "wait": 30, "HAIQU_API_KEY": alice.key},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["job"]["status"] == "Done"


def test_paging_and_wait_values_must_be_finite_integers(alice: Account):
    for params, field in (
        ({"limit": "nan"}, "limit"),
        ({"offset": "1e400"}, "offset"),
        ({"offset": "99999999999999999999"}, "offset"),
        ({"limit": "0"}, "limit"),
    ):
        answer = alice.get("/jobs", **params)
        assert answer.status_code == 422, params
        assert answer.json()["error"]["field"] == field
    assert alice.get("/jobs/x", wait="nan").json()["error"]["field"] == "wait"
