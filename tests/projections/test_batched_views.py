"""The projector applies the log a batch at a time (documents changed in memory, written once at
the end of the batch): the views equal those built an event at a time, however the log is cut
into batches, and an event that cannot be read or applied is set aside without losing the
others of its batch."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from eventsourcing.persistence import StoredEvent

from qorch.bootstrap import rebuilt_views
from qorch.domain.application import Qorch
from qorch.domain.execution import CircuitOutcome, CostEstimate, ExecutionOutcome, ProviderJob
from qorch.domain.job_commands import Submit
from qorch.domain.requests import RunRequest
from qorch.domain.submission import SdkJob, SdkView
from qorch.projections.database import ViewDatabase
from qorch.projections.jobs import get_job
from qorch.projections.projector import Projector, set_aside_events
from tests.conftest import BELL_QASM2, BELL_QASM3

LEASE = 30.0
Views = dict[str, list[tuple[object, ...]]]


def outcome(circuits: int) -> ExecutionOutcome:
    bell = CircuitOutcome(distributions=[{"00": 0.5, "11": 0.5}], counts=[{"00": 5, "11": 5}])
    return ExecutionOutcome([bell] * circuits)


def a_busy_log(app: Qorch, follow: Projector | None = None) -> list[str]:
    """Three users' experiments, circuits and jobs in every state a job reaches; `follow` (a
    server's projector) catches up after every command. Answers the job ids."""
    now = time.time()
    job_ids = []
    for number in range(3):
        user_id, _ = app.register_user(f"user-{number}")
        experiment_id = str(app.create_experiment(user_id, f"experiment {number}").id)
        circuit, _ = app.store_circuit(user_id, experiment_id, BELL_QASM2, name="bell")
        other, _ = app.store_circuit(user_id, experiment_id, BELL_QASM3)
        for step in range(8):
            circuit_ids = [str(circuit.id), str(other.id)][: 1 + step % 2]
            request = RunRequest(
                experiment_id=experiment_id,
                circuit_ids=circuit_ids,
                shots=10 + step,
                dry_run=step == 5,
            )
            if step == 6:  # as the haiqu-sdk submits: with its view of the job
                view = SdkView(job_type="Hybrid", program_json='{"steps": 2}', readout_bases=None)
                submit = Submit(key=f"explicit:{number}", fingerprint="f", now=now)
                job_id = app.submit_job_once(user_id, request, submit, view)[0].id
            else:
                job_id = app.submit_job(user_id, request).id
            job_ids.append(str(job_id))
            worker = f"worker-{step}"
            if step == 1:
                app.cancel_job(user_id, str(job_id), "not needed")
            if step != 1:
                assert app.claim_job(job_id, worker, now, False, LEASE) is not None
            if step == 2:
                app.renew_lease(job_id, worker, now + 1, LEASE)
                app.record_provider_job(job_id, worker, ProviderJob("ibm", ("task-1",)))
                app.record_failure(job_id, worker, {"code": "provider_error", "message": "x"})
                app.restart_job(user_id, str(job_id))
                assert app.claim_job(job_id, "again", now + 2, False, LEASE) is not None
                app.record_results(job_id, "again", outcome(len(circuit_ids)))
            if step == 3:
                app.release_job(job_id, worker)
            if step in (0, 4, 6):
                app.record_results(job_id, worker, outcome(len(circuit_ids)))
            if step == 5:
                app.record_estimate(job_id, worker, CostEstimate(1.0, 0.5, [{"qubits": 2}]))
            if follow is not None:
                follow.rebuild()
        app.update_experiment(user_id, experiment_id, "renamed", "after the jobs", ["t"])
    if follow is not None:
        follow.rebuild()
    return job_ids


def applied(app: Qorch, path: Path, page_size: int) -> Views:
    """The views built from the whole log, `page_size` events to a batch."""
    views = ViewDatabase(path)
    Projector(app, views).rebuild(page_size)
    dump = views.dump()
    views.close()
    return dump


def test_views_applied_in_batches_equal_the_views_applied_an_event_at_a_time(
    app: Qorch, tmp_path: Path
):
    live = ViewDatabase(tmp_path / "live.sqlite")
    job_ids = a_busy_log(app, follow=Projector(app, live))

    one_at_a_time = applied(app, tmp_path / "one.sqlite", page_size=1)
    assert sorted(str(row[0]) for row in one_at_a_time["jobs"]) == sorted(job_ids)
    assert {row[3] for row in one_at_a_time["jobs"]} == {"Done", "Cancelled", "Running", "Queued"}
    assert len(one_at_a_time["sdk_jobs"]) == 3 and not one_at_a_time["set_aside"]

    for page_size in (7, 5000):  # batches that cut jobs' events apart, and one batch
        assert applied(app, tmp_path / f"by-{page_size}.sqlite", page_size) == one_at_a_time
    assert live.dump() == one_at_a_time  # followed command by command, as a server does
    rebuilt, position = rebuilt_views(app, tmp_path / "rebuilt.sqlite", from_scratch=True)
    assert rebuilt.dump() == one_at_a_time
    assert position == app.recorder.max_notification_id()


def test_an_unreadable_event_is_set_aside_and_the_rest_of_its_batch_applied(
    app: Qorch, tmp_path: Path
):
    job_ids = a_busy_log(app)
    user_id, _ = app.register_user("eve")
    experiment_id = str(app.create_experiment(user_id, "poisoned").id)
    unreadable = StoredEvent(
        originator_id=uuid.UUID(experiment_id),
        originator_version=2,
        topic="qorch.domain.experiment:Experiment.Updated",
        state=b'{"name":{"_type_":"nope","_data_":1}}',
    )
    app.recorder.insert_events([unreadable])
    position = app.recorder.max_notification_id()
    later = a_busy_log(app)

    views = ViewDatabase(tmp_path / "views.sqlite")
    Projector(app, views).rebuild()  # the whole log in one batch

    [aside] = set_aside_events(views.connection())
    assert (aside["position"], aside["originator_id"]) == (position, experiment_id)
    assert "nope" in aside["error"]
    user_of = {row[0]: row[1] for row in views.dump()["jobs"]}
    assert set(user_of) == set(job_ids + later)
    assert views.max_tracking_id(app.name) == app.recorder.max_notification_id()


def test_an_event_that_cannot_be_applied_is_set_aside_even_when_a_later_one_would_hide_it(
    app: Qorch, tmp_path: Path
):
    """A job's error is kept in its document, which a batch writes once, at its end; a restart
    clears the error. An error that cannot be written sets its own event aside all the same."""
    user_id, _ = app.register_user("ada")
    experiment_id = str(app.create_experiment(user_id, "exp").id)
    circuit, _ = app.store_circuit(user_id, experiment_id, BELL_QASM2)
    request = RunRequest(experiment_id=experiment_id, circuit_ids=[str(circuit.id)])
    job_id = app.submit_job(user_id, request).id
    assert app.claim_job(job_id, "w", time.time(), False, LEASE) is not None
    app.record_failure(job_id, "w", {"code": "odd", "job": uuid.uuid4()})  # JSON has no UUID
    failed_at = app.recorder.max_notification_id()
    app.restart_job(user_id, str(job_id))
    a_busy_log(app)

    one_at_a_time = applied(app, tmp_path / "one.sqlite", page_size=1)
    assert applied(app, tmp_path / "batch.sqlite", page_size=5000) == one_at_a_time
    assert [row[0] for row in one_at_a_time["set_aside"]] == [failed_at]
    views = ViewDatabase(tmp_path / "batch.sqlite")
    doc = get_job(views.connection(), str(user_id), str(job_id))
    assert doc is not None and doc["status"] == "Submitted"
    assert [entry["type"] for entry in doc["events"]] == ["Submitted", "Claimed", "Restarted"]


def test_a_row_the_views_cannot_store_sets_its_event_aside_and_the_batch_is_applied(
    app: Qorch, tmp_path: Path
):
    job_ids = a_busy_log(app)
    odd = SdkJob(
        job_id=uuid.uuid4(),
        job_type={"not": "text"},  # type: ignore[arg-type]
        program_json="{}",
        readout_bases=None,
    )
    app.save(odd)
    odd_at = app.recorder.max_notification_id()
    job_ids += a_busy_log(app)

    views = ViewDatabase(tmp_path / "views.sqlite")
    Projector(app, views).rebuild()  # one batch: written at its end, where the row fails

    [aside] = set_aside_events(views.connection())
    assert aside["position"] == odd_at and "not supported" in aside["error"]
    assert sorted(str(row[0]) for row in views.dump()["jobs"]) == sorted(job_ids)
    assert views.dump() == applied(app, tmp_path / "one.sqlite", page_size=1)
    rebuilt, _ = rebuilt_views(app, tmp_path / "rebuilt.sqlite", from_scratch=True)
    assert rebuilt.dump() == views.dump()  # rolled back within the rebuild's one transaction
