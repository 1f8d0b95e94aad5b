"""A hostile user tries to poison the event log with values the store would misread (finding 1):
JSON objects shaped like the event library's type tags, `{"_type_": ..., "_data_": ...}`.

Such values are refused (a typed field) or recorded as opaque JSON text (free-form JSON), and an
event that cannot be read all the same is set aside: the service keeps answering every user,
starts again on the data, and `/health` says it is degraded.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import StoredEvent
from starlette.testclient import TestClient

from qorch.adapters.store import MisreadableValue
from qorch.bootstrap import open_application
from qorch.domain.experiment import Experiment
from qorch.domain.submission import SdkJob
from qorch.http.app import create_app
from qorch.settings import Settings
from tests.conftest import BELL_QASM2, Account, new_account, settings_for
from tests.sdk.test_sdk_wire import PROGRAM, SDK, sdk_post, upload_bell

TAG = {"_type_": "nope", "_data_": 1}
UUID_TAG = {"_type_": "uuid_hex", "_data_": "not a uuid"}


def every_read_answers(account: Account) -> None:
    """What a user reads after the attack: nothing answers 5xx, their objects are there."""
    for path in (
        "/health",
        "/jobs",
        "/experiments",
        "/devices",
        f"/experiments/{account.experiment_id}",
    ):
        answer = account.client.get(path, headers=account.headers)
        assert answer.status_code == 200, (path, answer.text)
    assert account.client.get("/health").json()["status"] == "ok"


def test_a_type_tag_as_an_experiment_name_is_refused(alice: Account, bob: Account):
    for body in ({"name": TAG}, {"name": "ok", "description": UUID_TAG}):
        answer = alice.client.put(
            f"/experiments/{alice.experiment_id}", json=body, headers={**alice.headers, **SDK}
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] in ("name", "description")
    answer = alice.post("/experiments", {"name": "x", "tags": [TAG]})
    assert answer.status_code == 422 and answer.json()["error"]["field"].startswith("tags")
    every_read_answers(alice)
    every_read_answers(bob)


def test_type_tags_in_free_form_json_are_recorded_as_plain_data(alice: Account):
    answer = alice.post(
        "/ai/run_circuits_on_qpu_or_simulator",
        {
            "experiment_id": alice.experiment_id,
            "circuits_qasm": [BELL_QASM2],
            "options": {"seed_simulator": TAG},
        },
    )
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "options.seed_simulator"

    circuit_id = upload_bell(alice)
    program = {**PROGRAM, "extra": {"deep": [TAG, UUID_TAG]}}
    body = {"experiment_id": alice.experiment_id, "program": program, "circuit_ids": [circuit_id]}
    answer = sdk_post(alice, "/flow", {**body, "shots": 10})
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["program"]["extra"] == {"deep": [TAG, UUID_TAG]}
    job_id = answer.json()["id"]
    events = alice.get(f"/jobs/{job_id}/events").json()["events"]
    assert [e["type"] for e in events][0] == "Submitted"
    again = alice.client.get(f"/jobs/{job_id}", headers={**alice.headers, **SDK})
    assert again.json()["program"]["extra"] == {"deep": [TAG, UUID_TAG]}
    every_read_answers(alice)


def test_the_store_refuses_what_it_would_misread(tmp_path: Path):
    """The last line: a value shaped like a type tag that reached an event by another path."""
    app = open_application(Settings(data_dir=tmp_path))
    try:
        experiment = Experiment(user_id=uuid.uuid4(), name="n", description="", tags=[TAG])  # type: ignore[list-item]
        with pytest.raises(MisreadableValue):
            app.save(experiment)
        assert app.recorder.max_notification_id() in (None, 0)
    finally:
        app.close()


def test_an_unreadable_event_is_set_aside_and_the_service_goes_on(tmp_path: Path):
    """An event the store cannot decode (written before these checks existed, or by hand) does
    not take the service down, now or at its next start."""
    settings = settings_for(tmp_path)
    with TestClient(create_app(settings)) as client:
        alice, bob = new_account(client), new_account(client)
        app = client.app.state.service.app  # type: ignore[attr-defined]
        poisoned = StoredEvent(
            originator_id=uuid.UUID(alice.experiment_id),
            originator_version=2,
            topic="qorch.domain.experiment:Experiment.Updated",
            state=b'{"name":{"_type_":"nope","_data_":1},"description":"","tags":[],'
            b'"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-30T00:00:00+00:00"}}',
        )
        app.recorder.insert_events([poisoned])
        bob.run(circuits_qasm=[BELL_QASM2], shots=10)  # the projector moves past the bad event
        position = app.recorder.max_notification_id()
        health = _wait_for_position(client, position)
        assert health["status"] == "degraded" and len(health["set_aside_events"]) == 1
        every_read_answers_but_health(bob)
        answer = client.put(
            f"/experiments/{alice.experiment_id}",
            json={"name": "renamed"},
            headers={**alice.headers, **SDK},
        )
        assert answer.status_code == 409 and "cannot be read" in answer.text
    # The next start reads the same log: it starts, and still says which event was set aside.
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        assert health["status"] == "degraded" and len(health["set_aside_events"]) == 1
        bob.client = client
        every_read_answers_but_health(bob)
        assert client.get("/jobs", headers=alice.headers).status_code == 200


def every_read_answers_but_health(account: Account) -> None:
    for path in ("/jobs", "/experiments", f"/experiments/{account.experiment_id}"):
        answer = account.client.get(path, headers=account.headers)
        assert answer.status_code == 200, (path, answer.text)


def _wait_for_position(client: TestClient, position: int) -> dict:
    for _ in range(200):
        health = client.get("/health").json()
        if health["log_position"] >= position:
            return health
        import time

        time.sleep(0.05)
    raise AssertionError("the projector did not reach the head of the log")


def test_a_version_1_sdk_job_with_its_program_as_an_object_still_loads(tmp_path: Path):
    """SdkJob.Recorded v1 kept the program as an object; v2 reads it as opaque JSON text."""
    app = open_application(Settings(data_dir=tmp_path))
    try:
        job_id = uuid.uuid4()
        sdk_job = SdkJob(job_id=job_id, job_type="Hybrid", program_json="{}", readout_bases=None)
        [event] = sdk_job.collect_events()
        stored = app.mapper.to_stored_event(event)
        state = json.loads(stored.state)
        assert state.pop("class_version") == 2
        state.pop("program_json")
        state["program"] = PROGRAM
        app.recorder.insert_events(
            [
                StoredEvent(
                    originator_id=stored.originator_id,
                    originator_version=stored.originator_version,
                    topic=stored.topic,
                    state=json.dumps(state).encode(),
                )
            ]
        )
        loaded: SdkJob = app.repository.get(sdk_job.id)
        assert isinstance(loaded, SdkJob) and loaded.program == PROGRAM
        assert loaded.job_id == job_id
    finally:
        app.close()
