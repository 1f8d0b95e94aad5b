"""The haiqu-sdk wire format at the HTTP level (in-process, no SDK environment needed):
repeated submits, refused layers, and the client's error shapes."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from qiskit import QuantumCircuit, qpy
from qiskit.circuit.library import UnitaryGate
from qiskit.quantum_info import Statevector, random_unitary

from tests.conftest import Account

SDK = {"haiqu-sdk-version": "1.7.0"}
PROGRAM: dict[str, Any] = {
    "schema_version": 1,
    "layers": [
        {"type": "input"},
        {"type": "transpilation", "optimization_level": None},
        {"type": "distribution_mitigation", "mitigation_enabled": False},
        {"type": "device", "device_id": "aer_simulator", "options": {}},
    ],
}


def sdk_post(account: Account, path: str, body: Any, **headers: str) -> Any:
    return account.client.post(path, json=body, headers={**account.headers, **SDK, **headers})


def bell_qpy() -> str:
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    buffer = io.BytesIO()
    qpy.dump(qc, buffer)  # written by qorch's own qiskit
    return base64.b64encode(buffer.getvalue()).decode()


def upload_bell(account: Account) -> str:
    answer = sdk_post(
        account,
        "/circuits",
        {"experiment_id": account.experiment_id, "qpy_dump": bell_qpy(), "hash": "12345"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["hash"] == "12345"
    return str(answer.json()["id"])


def flow_body(account: Account, circuit_id: str, shots: int = 100) -> dict[str, Any]:
    return {
        "experiment_id": account.experiment_id,
        "program": PROGRAM,
        "circuit_ids": [circuit_id],
        "shots": shots,
    }


def job_count(account: Account) -> int:
    return len(account.get("/jobs", experiment_id=account.experiment_id).json()["jobs"])


def test_an_idempotency_key_makes_a_repeated_submit_answer_the_first_job(alice: Account):
    circuit_id = upload_bell(alice)
    first = sdk_post(alice, "/flow", flow_body(alice, circuit_id), **{"Idempotency-Key": "k1"})
    again = sdk_post(alice, "/flow", flow_body(alice, circuit_id), **{"Idempotency-Key": "k1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = sdk_post(alice, "/flow", flow_body(alice, circuit_id, 7), **{"Idempotency-Key": "k1"})
    assert other.status_code == 409
    assert job_count(alice) == 1


def test_an_identical_retry_without_a_key_does_not_run_twice(alice: Account):
    circuit_id = upload_bell(alice)
    first = sdk_post(alice, "/flow", flow_body(alice, circuit_id, 321))
    retried = sdk_post(alice, "/flow", flow_body(alice, circuit_id, 321))
    assert first.json()["id"] == retried.json()["id"]
    assert job_count(alice) == 1


def test_the_same_circuit_uploaded_twice_is_stored_once(alice: Account):
    assert upload_bell(alice) == upload_bell(alice)
    found = alice.client.get(
        f"/experiments/{alice.experiment_id}/circuits/12345", headers={**alice.headers, **SDK}
    )
    assert found.status_code == 200
    listed = alice.client.get(
        f"/experiments/{alice.experiment_id}/circuits", headers={**alice.headers, **SDK}
    ).json()
    assert [c["hash"] for c in listed] == ["12345"]


def test_a_layer_qorch_cannot_run_is_refused_and_nothing_recorded(alice: Account):
    circuit_id = upload_bell(alice)
    body = flow_body(alice, circuit_id)
    body["program"] = {
        **PROGRAM,
        "layers": [{"type": "input"}, {"type": "packing"}, PROGRAM["layers"][-1]],
    }
    answer = sdk_post(alice, "/flow", body)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "program.layers[1].type"
    bases = {**flow_body(alice, circuit_id), "readout_bases": ["XX"]}
    assert sdk_post(alice, "/flow", bases).json()["error"]["field"] == "readout_bases"
    assert job_count(alice) == 0


def test_errors_in_the_clients_shapes(alice: Account):
    bad_key = alice.client.get("/user", headers={"authorization": "qk_wrong", **SDK})
    assert bad_key.status_code == 401
    missing = alice.client.get(
        f"/experiments/{alice.experiment_id}/circuits/999", headers={**alice.headers, **SDK}
    )
    assert missing.status_code == 404
    assert alice.client.get("/devices/nope", headers={**alice.headers, **SDK}).status_code == 404


def test_qorch_shapes_without_the_sdk_header_sdk_shapes_with_it(alice: Account):
    plain = alice.get("/experiments").json()
    assert isinstance(plain, dict) and "experiments" in plain
    sdk = alice.client.get("/experiments", headers={**alice.headers, **SDK}).json()
    assert isinstance(sdk, list) and isinstance(sdk[0]["user_id"], int)
    assert sdk[0]["user"]["username"]


def test_credentials_in_a_programs_device_options_are_never_recorded(alice: Account):
    circuit_id = upload_bell(alice)
    device = {
        "type": "device",
        "device_id": "aer_simulator",
        "options": {"ibm_quantum_token": "SECRET-IBM-123", "seed_simulator": 7},
    }
    body = {
        **flow_body(alice, circuit_id),
        "program": {**PROGRAM, "layers": [*PROGRAM["layers"][:-1], device]},
    }
    answer = sdk_post(alice, "/flow", body)
    assert answer.status_code in (200, 201), answer.text
    assert "SECRET" not in answer.text
    job = alice.client.get(f"/jobs/{answer.json()['id']}", headers={**alice.headers, **SDK})
    assert "SECRET" not in job.text
    app = alice.client.app.state.service.app  # type: ignore[attr-defined]
    stored = b"".join(n.state for n in app.recorder.select_notifications(start=None, limit=10**6))
    assert b"SECRET-IBM-123" not in stored


def test_concurrent_submits_with_one_key_all_answer_the_one_job(alice: Account):
    circuit_id = upload_bell(alice)
    body = flow_body(alice, circuit_id, 55)
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda _: sdk_post(alice, "/flow", body, **{"Idempotency-Key": "race"}), range(8)
            )
        )
    assert {a.status_code for a in answers} <= {200, 201}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert all("user_id" in a.json() for a in answers)  # full job shapes, never a stub
    assert job_count(alice) == 1


def test_restart_runs_the_same_job_again_under_its_id(alice: Account):
    circuit_id = upload_bell(alice)
    first = sdk_post(alice, "/flow", flow_body(alice, circuit_id, 77)).json()
    done = alice.wait_for(first["id"])
    restarted = sdk_post(alice, f"/jobs/{first['id']}/restart", None)
    assert restarted.status_code in (200, 201), restarted.text
    assert restarted.json()["id"] == first["id"]
    assert restarted.json()["status"] == "Submitted"
    again = alice.wait_for(first["id"])
    assert again["status"] == "Done"
    kinds = [event["type"] for event in again["events"]]
    assert kinds.count("Executed") == 2 and "Restarted" in kinds
    assert sum(again["counts"][0].values()) == sum(done["counts"][0].values()) == 77


def test_a_circuit_with_a_matrix_gate_runs(alice: Account):
    qc = QuantumCircuit(2)
    qc.append(UnitaryGate(random_unitary(4, seed=3)), [0, 1])
    qc.measure_all()
    buffer = io.BytesIO()
    qpy.dump(qc, buffer)
    uploaded = sdk_post(
        alice,
        "/circuits",
        {
            "experiment_id": alice.experiment_id,
            "qpy_dump": base64.b64encode(buffer.getvalue()).decode(),
            "hash": "unitary-1",
        },
    )
    assert uploaded.status_code == 201, uploaded.text
    job = sdk_post(alice, "/flow", flow_body(alice, str(uploaded.json()["id"]), 2000)).json()
    done = alice.wait_for(job["id"])
    assert done["status"] == "Done", done["error"]
    expected = Statevector(qc.remove_final_measurements(inplace=False)).probabilities_dict()
    for outcome, p in expected.items():
        assert (
            abs(done["quantum_results"][0].get(outcome, 0.0) - p)
            < 5 * (p * (1 - p) / 2000) ** 0.5 + 1e-9
        )
