"""GET /jobs/{id}/events: a job's audit log, read from the event log; and reading old events."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

from qorch.bootstrap import open_application
from qorch.domain.job import Job
from qorch.settings import Settings
from tests.conftest import BELL_QASM2, Account


def test_a_done_jobs_events_name_their_actors_and_hide_bulk(alice: Account):
    job = alice.wait_for(alice.run(circuits_qasm=[BELL_QASM2], shots=100)["id"])
    answer = alice.get(f"/jobs/{job['id']}/events")
    assert answer.status_code == 200
    events = answer.json()["events"]
    types = [e["type"] for e in events]
    assert types[0] == "Submitted" and types[-1] == "Executed"
    assert types.count("Executed") == 1 and "Claimed" in types
    assert [e["originator_version"] for e in events] == list(range(1, len(events) + 1))
    submitted, claimed, executed = events[0], events[types.index("Claimed")], events[-1]
    assert set(submitted["actor"]) == {"user_id"}
    assert submitted["data"]["priority"] == 0
    assert submitted["data"]["shots"] == 100
    assert "inputs_json" not in submitted["data"] and submitted["data"]["inputs_bytes"] > 0
    worker = claimed["data"]["worker_id"]
    assert claimed["actor"] == executed["actor"] == {"worker_id": worker}
    assert executed["data"]["results"] == f"/jobs/{job['id']}"
    assert executed["data"]["results_bytes"] > 0 and "results_json" not in executed["data"]
    datetime.fromisoformat(executed["timestamp"])


def test_another_users_job_events_are_not_found(alice: Account, bob: Account):
    job = alice.run(circuits_qasm=[BELL_QASM2], shots=10)
    assert bob.client.get(f"/jobs/{job['id']}/events", headers=bob.headers).status_code == 404
    for missing in (str(uuid.uuid4()), "not-a-uuid", alice.experiment_id):
        assert alice.client.get(f"/jobs/{missing}/events", headers=alice.headers).status_code == 404


def test_a_version_1_submitted_event_is_upcast(tmp_path: Path):
    """A Submitted event written before `priority` existed (class version 1, options as an
    object) still loads: upcast through version 2 to 3 (options as opaque JSON text)."""
    assert Job.Submitted.class_version == 3
    app = open_application(Settings(data_dir=tmp_path))
    try:
        job = Job(
            user_id=uuid.uuid4(),
            experiment_id=uuid.uuid4(),
            name="old",
            description="",
            circuit_ids=[],
            device_id="aer_simulator",
            shots=10,
            run_type="sampler",
            inputs_json=Job.encode_inputs(None, None),
            has_parameters=False,
            has_observables=False,
            options_json='{"seed_simulator": 7}',
            credentials_supplied=[],
            use_mitigation=False,
            dry_run=False,
        )
        [event] = job.collect_events()
        stored = app.mapper.to_stored_event(event)
        state = json.loads(stored.state)
        assert state.pop("class_version") == 3 and state.pop("priority") == 0
        state["options"] = json.loads(state.pop("options_json"))
        old = type(stored)(
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=json.dumps(state).encode(),
        )
        app.recorder.insert_events([old])
        loaded: Job = app.repository.get(job.id)
        assert isinstance(loaded, Job) and loaded.priority == 0 and loaded.name == "old"
        assert loaded.options == {"seed_simulator": 7}
    finally:
        app.close()
