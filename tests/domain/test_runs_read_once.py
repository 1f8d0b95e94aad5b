"""A run of a circuit already stored, in an experiment already used for a run, reads neither
again from the store (neither changes: a circuit's only event is `Stored`, an experiment's id
and owner are fixed), and what is kept never lets another user in."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pytest

from qorch.domain.application import Qorch
from qorch.domain.application_base import KEPT_SOURCE_CHARS
from qorch.domain.errors import RequestError
from qorch.domain.requests import RunRequest
from tests.domain.test_commands import (
    QPU,
    SIMULATOR,
    Holder,
    ada_with_an_experiment,
    check_options,
    facts_of,
)


@pytest.fixture
def app() -> Qorch:
    devices = {device.id: device for device in (SIMULATOR, QPU)}
    return Qorch(
        describe_circuit=facts_of,
        find_device=devices.get,
        check_options=check_options,
        credentials=Holder(),
    )


def reads_of(app: Qorch, monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """The ids whose events are read from the store from now on."""
    recorder = app.events.recorder
    select_events = recorder.select_events
    reads: list[UUID] = []

    def counted(originator_id: UUID, **options: Any) -> Any:
        reads.append(originator_id)
        return select_events(originator_id, **options)

    monkeypatch.setattr(recorder, "select_events", counted)
    return reads


def test_another_run_of_a_stored_circuit_reads_nothing(
    app: Qorch,
    monkeypatch: pytest.MonkeyPatch,
):
    ada, experiment = ada_with_an_experiment(app)
    request = RunRequest(experiment, circuits_qasm=["bell"], device_id="sim")
    first = app.find_job(app.submit_job(ada, request).id)
    app.submit_job(ada, request)  # the stored circuit is read here, once
    reads = reads_of(app, monkeypatch)

    again = app.submit_job(ada, request)

    assert reads == []
    job = app.find_job(again.id)
    assert first is not None and job is not None and job.circuit_ids == first.circuit_ids


def test_a_big_circuit_is_read_again_for_every_run(
    app: Qorch,
    monkeypatch: pytest.MonkeyPatch,
):
    ada, experiment = ada_with_an_experiment(app)
    big = "bell" + " " * KEPT_SOURCE_CHARS
    request = RunRequest(experiment, circuits_qasm=[big], device_id="sim")
    app.submit_job(ada, request)
    reads = reads_of(app, monkeypatch)

    job = app.find_job(app.submit_job(ada, request).id)

    assert job is not None and reads[0] == job.circuit_ids[0]


def test_what_is_kept_from_one_users_runs_lets_no_other_user_in(app: Qorch):
    ada, experiment = ada_with_an_experiment(app)
    request = RunRequest(experiment, circuits_qasm=["bell"], device_id="sim")
    job = app.find_job(app.submit_job(ada, request).id)
    assert job is not None
    app.submit_job(
        ada, RunRequest(experiment, circuit_ids=[str(job.circuit_ids[0])], device_id="sim")
    )
    bob, _ = app.register_user("bob")

    with pytest.raises(RequestError) as experiment_refused:
        app.submit_job(bob, request)
    bobs = str(app.create_experiment(bob, "his").id)
    with pytest.raises(RequestError) as circuit_refused:
        app.submit_job(
            bob, RunRequest(bobs, circuit_ids=[str(job.circuit_ids[0])], device_id="sim")
        )

    assert experiment_refused.value.field == "experiment_id"
    assert circuit_refused.value.field == "circuit_ids[0]"


def test_a_claim_reads_the_job_but_not_its_circuit_read_before(
    app: Qorch,
    monkeypatch: pytest.MonkeyPatch,
):
    ada, experiment = ada_with_an_experiment(app)
    request = RunRequest(experiment, circuits_qasm=["bell"], device_id="sim")
    first = app.submit_job(ada, request)
    assert app.claim_job(first.id, "w", time.time(), False, 30) is not None
    job = app.submit_job(ada, request)
    reads = reads_of(app, monkeypatch)

    claim = app.claim_job(job.id, "w", time.time(), False, 30)

    assert reads == [job.id]
    assert claim is not None and [c.source for c in claim.task.circuits] == ["bell"]
