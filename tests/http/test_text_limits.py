"""Names, descriptions, tags and client-chosen keys have length limits (finding 10: a 1 MB job
name used to be accepted and copied into every answer and page)."""

from __future__ import annotations

from qorch.domain.fields import TextLimits
from tests.conftest import BELL_QASM2, Account
from tests.sdk.test_sdk_wire import PROGRAM, SDK, sdk_post, upload_bell

LIMITS = TextLimits()
MEGABYTE = "x" * 1_000_000


def refused(answer, field: str) -> None:
    assert answer.status_code == 422, answer.text[:300]
    assert answer.json()["error"]["field"] == field, answer.json()
    assert (
        "at most" in answer.json()["error"]["message"]
        or "must" in answer.json()["error"]["message"]
    )


def run_body(account: Account, **fields: object) -> dict:
    return {"experiment_id": account.experiment_id, "circuits_qasm": [BELL_QASM2], **fields}


def test_a_one_megabyte_job_name_is_refused(alice: Account):
    before = alice.get("/jobs", experiment_id=alice.experiment_id).json()["jobs"]
    refused(
        alice.post("/ai/run_circuits_on_qpu_or_simulator", run_body(alice, name=MEGABYTE)), "name"
    )
    refused(
        alice.post("/ai/run_circuits_on_qpu_or_simulator", run_body(alice, description=MEGABYTE)),
        "description",
    )
    assert alice.get("/jobs", experiment_id=alice.experiment_id).json()["jobs"] == before
    # At the limit it is accepted.
    job = alice.run(**run_body(alice, name="n" * LIMITS.max_name, dry_run=True))
    assert job["name"] == "n" * LIMITS.max_name


def test_experiment_names_descriptions_and_tags_are_bounded(alice: Account):
    refused(alice.post("/experiments", {"name": "n" * (LIMITS.max_name + 1)}), "name")
    refused(alice.post("/experiments", {"name": "n", "description": MEGABYTE}), "description")
    refused(
        alice.post("/experiments", {"name": "n", "tags": ["t"] * (LIMITS.max_tags + 1)}), "tags"
    )
    refused(alice.post("/experiments", {"name": "n", "tags": ["t" * 65]}), "tags[0]")
    refused(alice.post("/experiments", {"name": "bad\x00name"}), "name")
    answer = alice.client.put(
        f"/experiments/{alice.experiment_id}",
        json={"name": MEGABYTE},
        headers={**alice.headers, **SDK},
    )
    refused(answer, "name")
    assert alice.get(f"/experiments/{alice.experiment_id}").json()["name"] == "tests"


def test_circuit_names_and_client_keys_are_bounded(alice: Account):
    answer = alice.post(
        "/ai/submit_circuit_for_analytics",
        {"experiment_id": alice.experiment_id, "circuit_qasm": BELL_QASM2, "name": MEGABYTE},
    )
    refused(answer, "name")
    circuit_id = upload_bell(alice)
    body = {"experiment_id": alice.experiment_id, "program": PROGRAM, "circuit_ids": [circuit_id]}
    refused(sdk_post(alice, "/flow", body, **{"Idempotency-Key": "k" * 1000}), "Idempotency-Key")
    big_program = {**PROGRAM, "notes": "p" * (LIMITS.max_options + 1)}
    refused(sdk_post(alice, "/flow", {**body, "program": big_program}), "program")
